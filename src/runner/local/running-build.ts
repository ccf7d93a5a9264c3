/** A build running on a local slot, as the runner tracks it. */
export interface RunningBuild {
  readonly abort: AbortController;
  /** Why it was cancelled, when it was (the first reason wins). */
  reason: string | null;
  /** Killed by a graceful shutdown (not by a cancel that came first). */
  stoppedForShutdown: boolean;
  /** Its lease was not renewed: killed, and its result is not recorded. */
  leaseLost: boolean;
  /** Its result is being recorded (a renewal may find the lease gone with the build). */
  recording: boolean;
  done: Promise<void>;
}
