/** What runs a program for nightless (the spawn helper, or this process): its request and answer. */

export interface RunRequest {
  readonly file: string;
  /** An argument array: never shell text. */
  readonly args: readonly string[];
  readonly cwd?: string | undefined;
  /** The program's whole environment (the helper's own is not passed on). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The program (its process group) is killed after this long. */
  readonly timeoutMs: number;
  /**
   * Kill when the program writes nothing (stdout or stderr) for `everyMs`; the first output is
   * allowed `firstMs` (connect + stall).
   */
  readonly stall?: { readonly firstMs: number; readonly everyMs: number } | undefined;
  /** Characters of stdout (and of stderr) kept; the rest is dropped. */
  readonly maxOutputChars: number;
  /** Keep the end of stderr instead of its beginning (git's cause comes after its progress). */
  readonly stderrTail?: boolean;
  /** Kills the program's process group. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Start only once this earlier run has ended with exit code 0 (and no error, timeout or
   * stall): in the helper the program starts the moment that run's program exits, with no round
   * trip through this process. After any other end it is not started (`error` says so).
   */
  readonly after?: RunTicket | undefined;
  /** Called with this run's ticket, before `run` returns: what a later run can follow. */
  readonly onTicket?: ((ticket: RunTicket) => void) | undefined;
}

/** A run handed to `run`, for a later run to follow (`RunRequest.after`). */
export interface RunTicket {
  readonly done: Promise<RunResult>;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly stalled: boolean;
  /** The program could not be started (ENOENT...) or the helper failed; `null` otherwise. */
  readonly error: string | null;
}

/** A program to start ahead of its run (`holdProcess`): the run's timers start at `release`. */
export type HoldRequest = Omit<RunRequest, 'signal' | 'after' | 'onTicket'>;

/**
 * A program started with its stdin held open, not yet run: whatever it does before reading
 * stdin (for git, starting up and loading its configuration) is done before the run is wanted.
 */
export interface HeldRun {
  /**
   * Begins the run: closes the program's stdin (end of input) and starts its timeout and stall
   * watchdog; from here it is a run like any other (`signal` kills it, `onTicket` gets what a later
   * run can follow). `undefined` when the program already ended while held — it died, or was
   * killed with its helper — and never ran: the caller starts it afresh. At most once.
   */
  release(options?: {
    readonly signal?: AbortSignal | undefined;
    readonly onTicket?: ((ticket: RunTicket) => void) | undefined;
  }): Promise<RunResult> | undefined;
  /**
   * Kills the program if it was never released; nothing once it was. Settles when the program
   * has ended (at once when there was nothing to kill); never rejects.
   */
  discard(): Promise<void>;
}
