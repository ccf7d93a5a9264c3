import { spawn } from 'node:child_process';
import type { NetworkLimits } from '../core/pipeline.js';

export interface GitRunOptions {
  readonly cwd?: string;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly env?: Readonly<Record<string, string>>;
  /**
   * For commands that talk to a remote: kill git when it writes nothing (stdout or stderr) for
   * `stallTimeoutMs`, the first output allowed `connectTimeoutMs` more. Network commands run with
   * `--progress`, so a healthy transfer keeps writing.
   */
  readonly network?: NetworkLimits;
}

export interface GitRunResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  /** Killed by the stall watchdog (`network` limits): the remote stopped answering. */
  readonly stalled?: boolean;
}

/** Runs `git <args>`; injectable so tests can count or fake invocations. Never rejects on a non-zero exit. */
export type GitRunner = (args: readonly string[], options: GitRunOptions) => Promise<GitRunResult>;

const MAX_CAPTURE = 64 * 1024;

/**
 * Environment for every git command: never prompt for credentials (a prompt would hang a build),
 * and make ssh fail fast on an unreachable host instead of waiting for the TCP timeout. With
 * `network` limits, http transfers slower than 1 byte/s for the stall time abort (libcurl's
 * low-speed check, which also covers a server that accepts and never answers) and ssh gets the
 * connect timeout and keep-alives that notice a dead peer within the stall time. An operator's
 * own `GIT_SSH_COMMAND` is kept.
 */
export function gitEnv(
  extra: Readonly<Record<string, string>> = {},
  network?: NetworkLimits,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  delete env.NIGHTLESS_TOKEN;
  env.GIT_TERMINAL_PROMPT = '0';
  env.GCM_INTERACTIVE = 'never';
  if (network === undefined) {
    env.GIT_SSH_COMMAND ??= 'ssh -o BatchMode=yes -o ConnectTimeout=15';
  } else {
    const connectS = seconds(network.connectTimeoutMs);
    const stallS = seconds(network.stallTimeoutMs);
    env.GIT_HTTP_LOW_SPEED_LIMIT = '1';
    env.GIT_HTTP_LOW_SPEED_TIME = String(stallS);
    env.GIT_SSH_COMMAND ??=
      `ssh -o BatchMode=yes -o ConnectTimeout=${connectS}` +
      ` -o ServerAliveInterval=${Math.max(1, Math.floor(stallS / 3))} -o ServerAliveCountMax=3`;
  }
  return { ...env, ...extra };
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The real runner: `spawn('git', args)` (argument array, no shell), with a timeout and abort. */
export const spawnGit: GitRunner = (args, options) =>
  new Promise((resolve) => {
    const child = spawn('git', [...args], {
      cwd: options.cwd,
      env: gitEnv(options.env, options.network),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: git runs helpers (git-remote-http, ssh) that hold the pipes open,
      // so killing git alone would leave the command "running" until the helper gives up.
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let stalled = false;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is gone already, or was never made
      }
    };
    // The stall watchdog: re-armed on every byte; the first window also allows the connect.
    let watchdog: NodeJS.Timeout | undefined;
    const arm = (ms: number): void => {
      if (options.network === undefined) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        kill();
      }, ms);
    };
    const limits = options.network;
    if (limits !== undefined) arm(limits.connectTimeoutMs + limits.stallTimeoutMs);
    child.stdout.on('data', (c: Buffer) => {
      if (stdout.length < MAX_CAPTURE) stdout += c.toString();
      if (limits !== undefined) arm(limits.stallTimeoutMs);
    });
    child.stderr.on('data', (c: Buffer) => {
      // Keep the tail: with `--progress` the head is progress, the cause comes last.
      stderr += c.toString();
      if (stderr.length > MAX_CAPTURE) stderr = stderr.slice(-MAX_CAPTURE);
      if (limits !== undefined) arm(limits.stallTimeoutMs);
    });
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, options.timeoutMs);
    options.signal?.addEventListener('abort', kill, { once: true });
    const done = (exitCode: number | null, extraErr = ''): void => {
      clearTimeout(timer);
      clearTimeout(watchdog);
      options.signal?.removeEventListener('abort', kill);
      resolve({ exitCode, stdout, stderr: stderr + extraErr, timedOut, stalled });
    };
    child.once('error', (err) => done(null, err.message));
    child.once('close', (code) => done(code));
  });
