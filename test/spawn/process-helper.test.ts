import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ProcessHelper,
  runProcess,
  runProgramsHere,
  type RunRequest,
  type RunResult,
} from '../../src/spawn/process-helper.js';
import { runHere } from '../../src/spawn/run-here.js';

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
}

// The helper process, and the same behaviour from this process (its fallback).
describe.each([
  ['the spawn helper process', (): Runner => helper()],
  ['runHere (in this process)', (): Runner => ({ run: runHere })],
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
});

describe('the spawn helper process', () => {
  it('starts the programs, not this process', async () => {
    const h = helper();
    const ppid = await h.run(sh('ps -o ppid= -p $$'));
    expect(Number(ppid.stdout.trim())).toBe(h.pid);
    expect(h.pid).not.toBe(process.pid);
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

  it('runProgramsHere: a small process of its own (a helper) starts programs itself', async () => {
    const viaHelper = await runProcess(sh('echo $PPID'));
    expect(Number(viaHelper.stdout.trim())).not.toBe(process.pid);
    runProgramsHere();
    const here = await runProcess(sh('echo $PPID'));
    expect(Number(here.stdout.trim())).toBe(process.pid);
  });
});
