import type { HoldRequest, RunResult } from './run-request.js';

// The messages between nightless and its spawn helper (`helper-program.ts`).

/** The longest a timer waits (2^31-1 ms); JSON has no Infinity either. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Processes the helper ends when this process dies (`watch`). */
export interface Watched {
  /** Their process group: signalled as a whole. */
  readonly pgid: number;
  /** `NAME=value` in the environment of each: catches those that left the group (`setsid`). */
  readonly mark: string;
  /** SIGTERM → SIGKILL delay. */
  readonly graceMs: number;
}

export interface WatchMessage extends Watched {
  readonly t: 'watch';
  readonly id: number;
}

/** The helper's `run` message (see `helper-program.ts`). */
export function runMessage(
  id: number,
  req: HoldRequest,
  how: { readonly after: number | null; readonly held?: true },
): object {
  return {
    t: 'run',
    id,
    file: req.file,
    args: req.args,
    cwd: req.cwd ?? null,
    env: req.env,
    timeoutMs: Math.min(req.timeoutMs, MAX_TIMER_MS),
    stall: req.stall ?? null,
    maxOut: req.maxOutputChars,
    tailErr: req.stderrTail === true,
    ...how,
  };
}

export interface DoneMessage extends RunResult {
  readonly t: 'done';
  readonly id: number;
  /** A held program that ended before its release: it never ran. */
  readonly held: boolean;
}

export function failed(error: string): RunResult {
  return {
    code: null,
    signal: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    stalled: false,
    error,
  };
}
