import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { stepShell, type StepCommand } from '../../src/executor/held-step.js';
import { PROCESS_COOKIE_ENV } from '../../src/executor/kill-tree.js';
import { statFields } from '../../src/spawn/proc-files.js';
import { LogWriter } from '../../src/executor/log-writer.js';
import { SpareShells } from '../../src/executor/spare-shell.js';
import { runStep } from '../../src/executor/step-runner.js';
import { tempDirs } from './helpers.js';

const tmp = tempDirs();
const pools: SpareShells[] = [];
afterEach(async () => {
  for (const p of pools.splice(0)) p.stop();
  await tmp.cleanup();
});

/** A pool with its spare started (the first `take` only starts one). */
async function readyPool(): Promise<SpareShells> {
  const pool = new SpareShells(0);
  pools.push(pool);
  expect(pool.take({ script: 'true', cwd: '/', env: {} })).toBeNull();
  await sleep(20); // the refill timer
  return pool;
}

async function output(child: ChildProcess): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const code = await new Promise<number>((resolve) => child.once('close', (c) => resolve(c ?? -1)));
  return { out, err, code };
}

/** This process's idle spare shells: its `bash --norc` children. */
function spareShells(): number[] {
  return readdirSync('/proc')
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
        const ppid = Number(statFields(stat)[1]);
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0');
        return ppid === process.pid && argv[1] === '--norc' && alive(pid);
      } catch {
        return false;
      }
    });
}

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`) && !zombie(pid);
function zombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return statFields(stat)[0] === 'Z';
  } catch {
    return true;
  }
}

/** Prints what a step can see of how it was started: directory, environment, stdin, group. */
const PROBE = [
  'pwd',
  'env -0 | LC_ALL=C sort -z | tr "\\0" "\\n" | grep -v "^NIGHTLESS_PROCESS_COOKIE="',
  'if IFS= read -r line; then echo "stdin: $line"; else echo "stdin: empty"; fi',
  'echo "leader: $(($(cut -d" " -f5 /proc/$$/stat) == $$))"',
  'printf "%s\\n" "$TRICKY"',
].join('\n');

describe('a spare shell started ahead of the step', () => {
  it('runs the step exactly as a spawn would: directory, environment, stdin, group', async () => {
    const cwd = await tmp.make();
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      TRICKY: `two\nlines, 'quotes' "and" $(touch ${cwd}/pwned) ü€ \\ end`,
      EMPTY: '',
      LANG: 'C.UTF-8',
    };
    const command: StepCommand = { script: `${PROBE}\nexit 3`, cwd, env };
    const direct = spawn(stepShell(command.script)[0]!, stepShell(command.script).slice(1), {
      cwd,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const expected = await output(direct);

    const pool = await readyPool();
    const spare = pool.take(command);
    expect(spare).not.toBeNull();
    const got = await output(spare!.child);
    expect(got).toEqual(expected);
    expect(got.code).toBe(3);
    expect(got.out).toContain('stdin: empty\nleader: 1\n');
    expect(got.out).toContain(`${env.TRICKY}\n`);
    expect(existsSync(join(cwd, 'pwned'))).toBe(false);
  });

  it('carries its own cookie into the step (left-behind processes are found by it)', async () => {
    const pool = await readyPool();
    const spare = pool.take({ script: `echo "$${PROCESS_COOKIE_ENV}"`, cwd: '/', env: {} });
    expect(spare).not.toBeNull();
    const got = await output(spare!.child);
    expect(got.out).toBe(`${spare!.cookie}\n`);
  });

  it('is replaced after each take: one step after another all get one', async () => {
    const pool = await readyPool();
    for (let i = 0; i < 3; i++) {
      const spare = pool.take({ script: `echo ${i}`, cwd: '/', env: {} });
      expect(spare).not.toBeNull();
      expect((await output(spare!.child)).out).toBe(`${i}\n`);
    }
  });

  it('is not used for a command a spawn would refuse (NUL byte): that error stays the spawn’s', async () => {
    const pool = await readyPool();
    expect(pool.take({ script: 'echo a\0b', cwd: '/', env: {} })).toBeNull();
    await sleep(20); // the refill timer
    expect(pool.take({ script: 'true', cwd: '/', env: { 'A=B': 'c' } })).toBeNull();
  });

  it('is not handed a step once killed, even before node has seen it end', async () => {
    const pool = await readyPool();
    const [idle] = spareShells();
    expect(idle).toBeDefined();
    process.kill(idle!, 'SIGKILL');
    // Synchronously, so node's event loop cannot have noticed the exit yet.
    const until = Date.now() + 5000;
    while (!zombie(idle!) && Date.now() < until) readFileSync(`/proc/${idle}/stat`, 'latin1');
    expect(pool.take({ script: 'echo ran', cwd: '/', env: {} })).toBeNull();
    await sleep(20); // the refill timer
    const next = pool.take({ script: 'echo ran', cwd: '/', env: {} });
    expect(next).not.toBeNull();
    expect((await output(next!.child)).out).toBe('ran\n');
  });

  it('ends when the pool stops, without running anything, and none starts after', async () => {
    const pool = await readyPool();
    const marks = await tmp.make();
    const [idle] = spareShells();
    expect(idle).toBeDefined();
    pool.stop();
    for (let waited = 0; waited < 5000 && alive(idle!); waited += 20) await sleep(20);
    expect(alive(idle!)).toBe(false);
    expect(pool.take({ script: `touch ${marks}/ran`, cwd: '/', env: {} })).toBeNull();
    await sleep(20); // the refill timer
    expect(pool.take({ script: `touch ${marks}/ran`, cwd: '/', env: {} })).toBeNull();
    expect(spareShells()).toEqual([]);
    expect(existsSync(join(marks, 'ran'))).toBe(false);
  });
});

describe('runStep with spare shells', () => {
  it('a cancelled step started from a spare is killed with everything it started', async () => {
    const pool = await readyPool();
    const dir = await tmp.make();
    const log = await LogWriter.open(join(dir, 'log'), {
      maxBytes: 1 << 20,
      secrets: [],
      onAdvance: () => undefined,
    });
    const ac = new AbortController();
    const step = runStep({
      name: 'long',
      script: `sleep 30 & echo $! > ${dir}/child; echo started; wait`,
      cwd: dir,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
      log,
      stepTimeoutMs: null,
      jobDeadline: null,
      noOutputTimeoutMs: null,
      killGraceMs: 2000,
      cancelGraceMs: 200,
      signal: ac.signal,
      spares: pool,
    });
    for (let waited = 0; waited < 5000 && !existsSync(join(dir, 'child')); waited += 10)
      await sleep(10);
    const child = Number(readFileSync(join(dir, 'child'), 'utf8'));
    ac.abort('cancelled by test');
    expect(await step).toEqual({ kind: 'cancelled', reason: 'cancelled by test' });
    expect(alive(child)).toBe(false);
    await log.close();
  });
});
