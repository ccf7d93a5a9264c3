import { spawn } from 'node:child_process';

export interface GitRunOptions {
  readonly cwd?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly env?: Readonly<Record<string, string>>;
}

export interface GitRunResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/** Runs `git <args>`; injectable so tests can count or fake invocations. Never rejects on a non-zero exit. */
export type GitRunner = (args: readonly string[], options: GitRunOptions) => Promise<GitRunResult>;

const MAX_CAPTURE = 64 * 1024;

/**
 * Environment for every git command: never prompt for credentials (a prompt would hang a build),
 * and make ssh fail fast on an unreachable host instead of waiting for the TCP timeout.
 */
function gitEnv(extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.NIGHTLESS_TOKEN;
  env.GIT_TERMINAL_PROMPT = '0';
  env.GCM_INTERACTIVE = 'never';
  env.GIT_SSH_COMMAND ??= 'ssh -o BatchMode=yes -o ConnectTimeout=15';
  return { ...env, ...extra };
}

/** The real runner: `spawn('git', args)` (argument array, no shell), with a timeout and abort. */
export const spawnGit: GitRunner = (args, options) =>
  new Promise((resolve) => {
    const child = spawn('git', [...args], {
      cwd: options.cwd,
      env: gitEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (c: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      if (stderr.length < MAX_CAPTURE) stderr += c.toString();
    });
    const kill = (): void => {
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    const done = (exitCode: number | null, extraErr = ''): void => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', kill);
      resolve({ exitCode, stdout, stderr: stderr + extraErr, timedOut });
    };
    child.once('error', (err) => done(null, err.message));
    child.once('close', (code) => done(code));
  });
