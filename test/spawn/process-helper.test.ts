import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import {
  ProcessHelper,
  runProcess,
  runProgramsHere,
  type HeldRun,
  type RunRequest,
  type RunResult,
  type RunTicket,
} from '../../src/spawn/process-helper.js';
import { holdHere, runHere } from '../../src/spawn/run-here.js';

const helpers: ProcessHelper[] = [];
afterEach(() => {
  for (const h of helpers.splice(0)) h.stop();
});

function helper(): ProcessHelper {
  const h = new ProcessHelper();
  helpers.push(h);
  return h;
}

const sh = (script: string, extra: Partial<RunRequest> = {}): RunRequest => ({
  file: 'sh',
  args: ['-c', script, 'sh', 'arg with spaces; $(not run)'],
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ONLY: 'this' },
  timeoutMs: 10_000,
  maxOutputChars: 64 * 1024,
  ...extra,
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether a process with this id still runs (not a zombie). */
function alive(pid: number): boolean {
  try {
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z');
  } catch {
    return false;
  }
}

interface Runner {
  run(req: RunRequest): Promise<RunResult>;
  hold(req: RunRequest): HeldRun;
}

// The helper process, and the same behaviour from this process (its fallback).
describe.each([
  ['the spawn helper process', (): Runner => helper()],
  ['runHere (in this process)', (): Runner => ({ run: runHere, hold: holdHere })],
])('%s', (_name, runner) => {
  it('runs a program with an argument array and the given environment', async () => {
    const h = runner();
    const r = await h.run(
      sh('printf "%s|%s|%s" "$1" "$ONLY" "$HOME"; echo oops >&2; exit 3', { cwd: '/' }),
    );
    expect(r).toMatchObject({
      code: 3,
      stdout: 'arg with spaces; $(not run)|this|',
      stderr: 'oops\n',
      timedOut: false,
      stalled: false,
      error: null,
    });
  });

  it('kills the whole process group on timeout (a grandchild holding the pipes included)', async () => {
    const h = runner();
    const t0 = Date.now();
    const r = await h.run(sh('sleep 30 & echo $!; wait', { timeoutMs: 300 }));
    expect(r.timedOut).toBe(true);
    expect(r.code).toBeNull();
    expect(Date.now() - t0).toBeLessThan(5000);
    const grandchild = Number(r.stdout.trim());
    expect(grandchild).toBeGreaterThan(0);
    await new Promise((res) => setTimeout(res, 100));
    expect(alive(grandchild)).toBe(false);
  });

  it('the stall watchdog kills a program that stops writing, not one that keeps writing', async () => {
    const h = runner();
    // Wide margins (a loaded machine delays writes by hundreds of ms); the chatty program runs
    // past the first window, so only re-arming on each write keeps it alive.
    const stall = { firstMs: 1500, everyMs: 1000 };
    const silent = await h.run(sh('echo start; sleep 20', { stall }));
    expect(silent).toMatchObject({ stalled: true, timedOut: false, code: null, stdout: 'start\n' });
    const chatty = await h.run(
      sh('for i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo $i >&2; sleep 0.2; done', { stall }),
    );
    expect(chatty).toMatchObject({ stalled: false, code: 0 });
  });

  it('an abort kills the program; an already aborted signal never lets it run long', async () => {
    const h = runner();
    const ac = new AbortController();
    const running = h.run(sh('sleep 20', { signal: ac.signal }));
    setTimeout(() => ac.abort(), 100);
    const r = await running;
    expect(r.code).toBeNull();
    expect(r.signal).toBe('SIGKILL');
    const pre = await h.run(sh('sleep 20', { signal: AbortSignal.abort() }));
    expect(pre.signal).toBe('SIGKILL');
  });

  it('caps the output; keeps the tail of stderr when asked', async () => {
    const h = runner();
    const script = 'i=0; while [ $i -lt 2000 ]; do echo line$i; echo err$i >&2; i=$((i+1)); done';
    const r = await h.run(sh(script, { maxOutputChars: 1000, stderrTail: true }));
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith('line0\n')).toBe(true);
    expect(r.stdout.length).toBeLessThan(1000 + 64 * 1024); // at most one pipe chunk over
    expect(r.stderr.length).toBeLessThanOrEqual(1000);
    expect(r.stderr.endsWith('err1999\n')).toBe(true);
  });

  it('a missing program is an error in the result, not a rejection', async () => {
    const r = await runner().run({ ...sh(''), file: 'no-such-program-nightless' });
    expect(r.code).toBeNull();
    expect(r.error).toMatch(/ENOENT/);
  });

  it('runs many at once without mixing up their answers', async () => {
    const h = runner();
    const rs = await Promise.all(Array.from({ length: 40 }, (_, i) => h.run(sh(`echo ${i}`))));
    expect(rs.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 40 }, (_, i) => `${i}`));
  });

  it('a run that follows another starts only once it has succeeded, and never after a failure', async () => {
    const h = runner();
    const dir = mkdtempSync(join(tmpdir(), 'nightless-follow-'));
    try {
      const first = ticketed(h, sh(`sleep 0.3; echo landed > ${dir}/f`));
      // The follower reads what the first one writes at its very end: it ran after it.
      const second = await h.run(sh(`cat ${dir}/f`, { after: first.ticket }));
      expect(second).toMatchObject({ code: 0, stdout: 'landed\n', error: null });
      // Following a run that has ended already: it starts at once.
      expect(await h.run(sh('echo again', { after: first.ticket }))).toMatchObject({
        code: 0,
        stdout: 'again\n',
      });
      const failing = ticketed(h, sh('sleep 0.2; exit 3'));
      const skipped = await h.run(sh(`touch ${dir}/ran`, { after: failing.ticket }));
      expect(skipped).toMatchObject({ code: null, error: expect.stringMatching(/^not started/) });
      expect((await failing.done).code).toBe(3);
      expect(existsSync(join(dir, 'ran'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a follower killed while it waits never starts, at once; the run it follows goes on', async () => {
    const h = runner();
    const dir = mkdtempSync(join(tmpdir(), 'nightless-follow-'));
    try {
      const first = ticketed(h, sh('sleep 0.4; echo done'));
      const ac = new AbortController();
      const waiting = h.run(sh(`touch ${dir}/ran`, { after: first.ticket, signal: ac.signal }));
      const order: string[] = [];
      void waiting.then(() => order.push('follower'));
      void first.done.then(() => order.push('first'));
      setTimeout(() => ac.abort(), 50);
      expect(await waiting).toMatchObject({
        code: null,
        error: expect.stringMatching(/^not started/),
      });
      expect(await first.done).toMatchObject({ code: 0, stdout: 'done\n' });
      // A cancel does not wait for the run it followed (a fetch may take minutes).
      expect(order).toEqual(['follower', 'first']);
      await sleep(100);
      expect(existsSync(join(dir, 'ran'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a held program starts now and runs at its release: stdin closed, timers from then', async () => {
    const h = runner();
    const dir = mkdtempSync(join(tmpdir(), 'nightless-held-'));
    try {
      // Its start-up is done before the release; `cat` returns when stdin is closed.
      const held = h.hold(
        sh(`echo $$ > ${dir}/pid; cat; echo ran; sleep 0.1; echo done`, { timeoutMs: 400 }),
      );
      const pid = await pidIn(join(dir, 'pid'));
      await sleep(600); // longer than its timeout: the clock has not started
      expect(alive(pid)).toBe(true);
      let ticket: RunTicket | undefined;
      const run = held.release({ onTicket: (t) => (ticket = t) });
      expect(run).toBeDefined();
      expect(held.release()).toBeUndefined(); // once
      expect(await run).toMatchObject({ code: 0, stdout: 'ran\ndone\n', timedOut: false });
      // What follows it, follows it (a checkout after a fetch).
      expect(ticket).toBeDefined();
      const next = await h.run(sh('echo next', { after: ticket }));
      expect(next).toMatchObject({ code: 0, stdout: 'next\n' });
      await held.discard(); // nothing once released
      expect(await run).toMatchObject({ code: 0 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a held program times out from its release; an abort kills it', async () => {
    const h = runner();
    const slow = h.hold(sh('cat; sleep 5', { timeoutMs: 300 }));
    await sleep(50);
    const t0 = Date.now();
    expect(await slow.release()).toMatchObject({ timedOut: true, code: null });
    expect(Date.now() - t0).toBeLessThan(3000);
    const killed = h.hold(sh('cat; sleep 5'));
    const ac = new AbortController();
    const run = killed.release({ signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    expect((await run)?.code).toBeNull();
  });

  it('a held program that ended before its release is not run: release says so', async () => {
    const h = runner();
    const dead = h.hold(sh('exit 7'));
    await sleep(300);
    expect(dead.release()).toBeUndefined();
  });

  it('a held program killed just before its release: runs afresh, or release says it never ran', async () => {
    const h = runner();
    const dir = mkdtempSync(join(tmpdir(), 'nightless-held-'));
    try {
      const held = h.hold(sh(`echo $$ >> ${dir}/pids; cat; echo ran`));
      const pid = await pidIn(join(dir, 'pids'));
      process.kill(pid, 'SIGKILL');
      await until(() => !alive(pid)); // dead (a zombie), its end not yet read by its parent
      const run = held.release();
      if (run !== undefined) {
        expect(await run).toMatchObject({ code: 0, stdout: 'ran\n', error: null });
        expect(readFileSync(join(dir, 'pids'), 'utf8').trim().split('\n')).toHaveLength(2);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('discard ends a held program that was never released, and settles once it has', async () => {
    const h = runner();
    const dir = mkdtempSync(join(tmpdir(), 'nightless-held-'));
    try {
      const held = h.hold(sh(`echo $$ > ${dir}/pid; cat; touch ${dir}/ran`));
      const pid = await pidIn(join(dir, 'pid'));
      const ended = held.discard();
      expect(held.release()).toBeUndefined(); // never run once discarded, even before it ends
      await ended;
      expect(alive(pid)).toBe(false);
      await held.discard(); // twice: nothing more
      expect(existsSync(join(dir, 'ran'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** Waits (bounded: 5 s) until `ok` holds. */
async function until(ok: () => unknown): Promise<void> {
  const end = Date.now() + 5000;
  while (!ok()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(20);
  }
}

/** The process id a program wrote into `file` (waited for, bounded). */
async function pidIn(file: string): Promise<number> {
  await until(() => existsSync(file) && readFileSync(file, 'utf8').trim() !== '');
  return Number(readFileSync(file, 'utf8'));
}

/** `run(req)` and the ticket it hands out. */
function ticketed(h: Runner, req: RunRequest): { done: Promise<RunResult>; ticket: RunTicket } {
  let ticket: RunTicket | undefined;
  const done = h.run({ ...req, onTicket: (t) => (ticket = t) });
  if (ticket === undefined) throw new Error('no ticket handed out');
  return { done, ticket };
}

describe('the spawn helper process', () => {
  it('starts the programs, not this process', async () => {
    const h = helper();
    const ppid = await h.run(sh('ps -o ppid= -p $$'));
    expect(Number(ppid.stdout.trim())).toBe(h.pid);
    expect(h.pid).not.toBe(process.pid);
  });

  it('starts a follower the moment the run it follows ends, with no turn of this process', async () => {
    const h = helper();
    const now = (): number => Number(process.hrtime.bigint() / 1_000_000n);
    const first = ticketed(h, sh('sleep 0.2'));
    // `date` in ms since the epoch, against this process's clock of the same kind.
    const follower = h.run(sh('date +%s%3N', { after: first.ticket }));
    await sleep(20); // both handed to the helper
    const offset = Date.now() - now();
    const blockedUntil = now() + 1500;
    while (now() < blockedUntil); // this process does nothing else meanwhile
    const startedAt = Number((await follower).stdout.trim()) - offset;
    expect((await first.done).code).toBe(0);
    expect(startedAt).toBeLessThan(blockedUntil);
  });

  it('a follower of a run the helper no longer remembers (64 ended since) is not started', async () => {
    const h = helper();
    const first = ticketed(h, sh('true'));
    await first.done;
    await Promise.all(Array.from({ length: 64 }, () => h.run(sh('true'))));
    const late = await h.run(sh('echo ran', { after: first.ticket }));
    expect(late).toMatchObject({ code: null, stdout: '', error: expect.stringMatching(/unknown/) });
    const recent = ticketed(h, sh('true'));
    await recent.done;
    expect(await h.run(sh('echo ran', { after: recent.ticket }))).toMatchObject({ code: 0 });
  });

  it('a follower of a run in another helper waits for it here', async () => {
    const a = helper();
    const b = helper();
    const first = ticketed(a, sh('sleep 0.2; echo a'));
    const r = await b.run(sh('echo b', { after: first.ticket }));
    expect(r).toMatchObject({ code: 0, stdout: 'b\n' });
    expect((await first.done).stdout).toBe('a\n');
    const failing = ticketed(a, sh('exit 1'));
    expect(await b.run(sh('echo no', { after: failing.ticket }))).toMatchObject({
      code: null,
      stdout: '',
      error: expect.stringMatching(/^not started/),
    });
  });

  it('a helper that cannot start: the programs run from this process instead', async () => {
    const h = new ProcessHelper('/nonexistent/node-for-nightless-test');
    helpers.push(h);
    const rs = await Promise.all([h.run(sh('echo one')), h.run(sh('echo two'))]);
    expect(rs.map((r) => [r.code, r.stdout])).toEqual([
      [0, 'one\n'],
      [0, 'two\n'],
    ]);
    const later = await h.run(sh('echo $PPID'));
    expect(Number(later.stdout.trim())).toBe(process.pid);
  });

  it('stop ends the helper and the programs it runs; a run after it starts a new helper', async () => {
    const h = helper();
    const dir = mkdtempSync(join(tmpdir(), 'nightless-helper-'));
    const pidFile = join(dir, 'pid');
    const running = h.run(sh(`echo $$ > ${pidFile}; exec sleep 30`));
    for (let i = 0; i < 100 && !existsSync(pidFile); i++) await sleep(50);
    const pid = Number(readFileSync(pidFile, 'utf8'));
    const first = h.pid;
    h.stop();
    expect((await running).error).toMatch(/stopped/);
    for (let i = 0; i < 100 && alive(pid); i++) await sleep(50);
    expect(alive(pid)).toBe(false);
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    // No timeout at all (Infinity) still runs to the end.
    expect(await h.run(sh('echo again', { timeoutMs: Infinity }))).toMatchObject({
      code: 0,
      stdout: 'again\n',
    });
    expect(h.pid).not.toBe(first);
  });

  it('runs in flight fail with a clear error when the helper dies; the next run starts a new one', async () => {
    const h = helper();
    await h.run(sh('true'));
    const first = h.pid as number;
    const running = h.run(sh('sleep 20'));
    process.kill(first, 'SIGKILL');
    const r = await running;
    expect(r.error).toMatch(/spawn helper exited \(SIGKILL\)/);
    const again = await h.run(sh('echo back'));
    expect(again).toMatchObject({ code: 0, stdout: 'back\n' });
    expect(h.pid).not.toBe(first);
  });

  it('keeps a process alive while a run is pending, and never once it is idle', () => {
    const mod = pathToFileURL(join(import.meta.dirname, '../../src/spawn/process-helper.ts')).href;
    // Nothing else holds this process's event loop: it exits only if the helper lets it.
    const script = `const { runProcess } = await import(${JSON.stringify(mod)});
      const r = await runProcess({ file: 'sh', args: ['-c', 'sleep 0.3; echo done'],
        env: { PATH: process.env.PATH }, timeoutMs: 5000, maxOutputChars: 100 });
      console.log(r.stdout.trim());`;
    const out = execFileSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      { encoding: 'utf8', timeout: 20_000 },
    );
    expect(out.trim()).toBe('done');
  });

  it('a held program never keeps a process alive; the helper ends it when that process exits', async () => {
    const mod = pathToFileURL(join(import.meta.dirname, '../../src/spawn/process-helper.ts')).href;
    const dir = mkdtempSync(join(tmpdir(), 'nightless-helper-'));
    const pidFile = join(dir, 'pid');
    const script = `const { holdProcess } = await import(${JSON.stringify(mod)});
      holdProcess({ file: 'sh', args: ['-c', 'echo $$ > ${pidFile}; cat; sleep 30'],
        env: { PATH: process.env.PATH }, timeoutMs: 60000, maxOutputChars: 100 });
      await new Promise((r) => setTimeout(r, 300));`;
    try {
      const t0 = Date.now();
      execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(Date.now() - t0).toBeLessThan(15_000);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      await until(() => !alive(pid));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('stop: a held program ends with the helper, and its release says it never ran', async () => {
    const h = helper();
    const dir = mkdtempSync(join(tmpdir(), 'nightless-helper-'));
    try {
      const held = h.hold(sh(`echo $$ > ${dir}/pid; cat; touch ${dir}/ran`));
      const pid = await pidIn(join(dir, 'pid'));
      h.stop();
      expect(held.release()).toBeUndefined();
      await until(() => !alive(pid));
      expect(existsSync(join(dir, 'ran'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runProgramsHere: a small process of its own (a helper) starts programs itself', async () => {
    const viaHelper = await runProcess(sh('echo $PPID'));
    expect(Number(viaHelper.stdout.trim())).not.toBe(process.pid);
    runProgramsHere();
    const here = await runProcess(sh('echo $PPID'));
    expect(Number(here.stdout.trim())).toBe(process.pid);
  });
});

/**
 * A process group started by this process, the way a build step is (`detached`, a mark in its
 * environment): `script` writes the pids to watch to stdout, one line; resolves with them.
 */
async function startGroup(script: string): Promise<{ pgid: number; mark: string; pids: number[] }> {
  const mark = `NIGHTLESS_TEST_MARK=${randomUUID()}`;
  const child = spawn('bash', ['-c', script], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', NIGHTLESS_TEST_MARK: mark.split('=')[1] },
  });
  child.unref();
  const line = await new Promise<string>((resolve) =>
    child.stdout.setEncoding('utf8').once('data', (d: string) => resolve(d)),
  );
  child.stdout.destroy();
  return { pgid: child.pid as number, mark, pids: line.trim().split(' ').map(Number) };
}

async function gone(pids: readonly number[], withinMs: number): Promise<number[]> {
  const deadline = Date.now() + withinMs;
  while (Date.now() < deadline && pids.some(alive)) await sleep(20);
  return pids.filter(alive);
}

const killAll = (pids: readonly number[]) => {
  for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
};

describe('the spawn helper as lifeline of processes started here (watch)', () => {
  it('its owner gone, it ends a watched group and the marked processes that left it', async () => {
    const h = helper();
    await h.run(sh('true'));
    const g = await startGroup('sleep 600 & a=$!; setsid sleep 600 & echo $$ $a $!; wait');
    h.watch({ pgid: g.pgid, mark: g.mark, graceMs: 5000 });
    try {
      expect(g.pids.every(alive)).toBe(true);
      h.stop(); // the channel closes, as when this process dies
      // SIGTERM ends them at once: no waiting for the grace.
      expect(await gone(g.pids, 3000)).toEqual([]);
    } finally {
      killAll(g.pids);
    }
  });

  it('what ignores SIGTERM gets SIGKILL after the grace', async () => {
    const h = helper();
    await h.run(sh('true'));
    const g = await startGroup(`trap '' TERM; sleep 600 & echo $$ $!; wait`);
    h.watch({ pgid: g.pgid, mark: g.mark, graceMs: 1000 });
    try {
      h.stop();
      await sleep(300);
      expect(g.pids.filter(alive)).toEqual(g.pids);
      expect(await gone(g.pids, 5000)).toEqual([]);
    } finally {
      killAll(g.pids);
    }
  });

  it('an unwatched group is left alone', async () => {
    const h = helper();
    await h.run(sh('true'));
    const kept = await startGroup('sleep 600 & echo $$ $!; wait');
    const ended = await startGroup('sleep 600 & echo $$ $!; wait');
    h.watch({ pgid: kept.pgid, mark: kept.mark, graceMs: 100 })();
    h.watch({ pgid: ended.pgid, mark: ended.mark, graceMs: 100 });
    try {
      h.stop();
      expect(await gone(ended.pids, 3000)).toEqual([]);
      expect(kept.pids.every(alive)).toBe(true);
    } finally {
      killAll([...kept.pids, ...ended.pids]);
    }
  });

  it('a helper killed while it watches is replaced and told again', async () => {
    const h = helper();
    const g = await startGroup('sleep 600 & echo $$ $!; wait');
    h.watch({ pgid: g.pgid, mark: g.mark, graceMs: 100 }); // starts the helper
    try {
      const first = h.pid as number;
      expect(first).toBeGreaterThan(0);
      process.kill(first, 'SIGKILL');
      for (let i = 0; i < 150 && (h.pid === undefined || h.pid === first); i++) await sleep(20);
      expect(h.pid).not.toBe(first);
      expect(g.pids.every(alive)).toBe(true);
      h.stop();
      expect(await gone(g.pids, 3000)).toEqual([]);
    } finally {
      killAll(g.pids);
    }
  });
});
