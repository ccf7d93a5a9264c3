import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

/** Spawns the compiled `nightless serve` (`dist/`, built by `npm test` first) as a user runs it. */
export const root = join(import.meta.dirname, '..', '..');
export const bin = join(root, 'bin', 'nightless.js');
/** `bin` runs the bundle `npm run build` makes (`npm test` builds first); without it, skip. */
export const notBuilt = !existsSync(join(root, 'dist', 'bundle', 'main.js'));

export interface Served {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** The exit code, or the signal's name when a signal ended it. */
  readonly exited: Promise<number | string | null>;
}

/** Starts `nightless serve --port 0 …args`; does not wait for it to listen (see `urlOf`). */
export function spawnServe(
  args: readonly string[],
  cwd: string,
  env: Readonly<Record<string, string>> = {},
): Served {
  const child = spawn(
    process.execPath,
    [bin, 'serve', '--port', '0', '--log-level', 'info', ...args],
    {
      cwd,
      env: { ...process.env, NIGHTLESS_TOKEN: 'test-token-123', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | string | null>((r) =>
    child.on('exit', (code, signal) => r(code ?? signal)),
  );
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The URL the server printed once it listens. */
export function urlOf(s: Served, ms = 20_000): Promise<string> {
  return waitFor(
    () => /at (http:\/\/\S+)/.exec(s.stdout())?.[1],
    ms,
    () => `no URL printed; stderr: ${s.stderr()}`,
  );
}

/** Polls `probe` every 100 ms until it returns a value (not `undefined`/`false`), at most `ms`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms: number,
  what: () => string,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The exit of `s`, or `'hung'` after `ms`. */
export function exitWithin(s: Served, ms: number): Promise<number | string | null> {
  return Promise.race([s.exited, new Promise<string>((r) => setTimeout(() => r('hung'), ms))]);
}

export async function api<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  return (await res.json()) as T;
}

export interface BuildsBody {
  builds: Array<{
    id: number;
    job: string;
    state: string;
    reason: string | null;
    attempt: number;
    startedAt: number | null;
  }>;
}

export interface LogBody {
  lines: Array<{ stream: string; text: string }>;
}
