import {
  holdProcess,
  runProcess,
  type HoldRequest,
  type RunResult,
  type RunTicket,
} from '../spawn/process-helper.js';
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
  /** Start only once this run has succeeded, without a round trip here (`RunRequest.after`). */
  readonly after?: RunTicket;
  /** Receives this run's ticket, for a later run to follow; runners that cannot, never call it. */
  readonly onTicket?: (ticket: RunTicket) => void;
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

/**
 * The real runner: `git` with an argument array (no shell), in its own process group (git runs
 * helpers — git-remote-http, ssh — that hold the pipes open, so killing git alone would leave the
 * command "running"), with a timeout, the stall watchdog of `network` limits, and abort. It is
 * spawned by the spawn helper process, not by the server (`spawn/process-helper.ts`: a fork of
 * the server blocks its event loop).
 */
export const spawnGit: GitRunner = async (args, options) =>
  gitResult(
    await runProcess({
      ...gitRequest(args, options),
      signal: options.signal,
      after: options.after,
      onTicket: options.onTicket,
    }),
  );

/** A git command started ahead of its run (`holdGit`): `release` runs it, as `GitRunner` would. */
export interface HeldGit {
  /** The run, or `undefined` when git ended while held (see `HeldRun.release`): run it afresh. */
  release(
    signal?: AbortSignal,
    onTicket?: (ticket: RunTicket) => void,
  ): Promise<GitRunResult> | undefined;
  /** Ends git if it was never released; settles when it has ended (`HeldRun.discard`). */
  discard(): Promise<void>;
}

/** Starts `git <args>` now, for a run later; injectable like `GitRunner`. */
export type GitHolder = (
  args: readonly string[],
  options: Pick<GitRunOptions, 'cwd' | 'timeoutMs' | 'env' | 'network'>,
) => HeldGit;

/** The real holder: `spawnGit`'s command, its stdin held open until `release` (`holdProcess`). */
export const holdGit: GitHolder = (args, options) => {
  const held = holdProcess(gitRequest(args, options));
  return {
    release: (signal, onTicket) => held.release({ signal, onTicket })?.then(gitResult),
    discard: () => held.discard(),
  };
};

function gitRequest(
  args: readonly string[],
  options: Pick<GitRunOptions, 'cwd' | 'timeoutMs' | 'env' | 'network'>,
): HoldRequest {
  const limits = options.network;
  return {
    file: 'git',
    args,
    cwd: options.cwd,
    env: gitEnv(options.env, limits),
    timeoutMs: options.timeoutMs,
    // The first window also allows the connect; every byte re-arms the watchdog.
    stall:
      limits === undefined
        ? undefined
        : {
            firstMs: limits.connectTimeoutMs + limits.stallTimeoutMs,
            everyMs: limits.stallTimeoutMs,
          },
    maxOutputChars: MAX_CAPTURE,
    // Keep the tail: with `--progress` the head is progress, the cause comes last.
    stderrTail: true,
  };
}

function gitResult(r: RunResult): GitRunResult {
  return {
    exitCode: r.code,
    stdout: r.stdout,
    stderr: r.error === null ? r.stderr : r.stderr + r.error,
    timedOut: r.timedOut,
    stalled: r.stalled,
  };
}
