import type { Build } from '../core/build.js';

/**
 * What the engine needs from "something that runs queued builds": local slots in the server
 * (`local/`) today, remote agents holding leases (`remote/`) next. A runner claims builds from the
 * durable queue itself (the database decides who runs what); the engine only wakes it, asks it to
 * kill a build it runs, and stops it.
 */
export interface Runner {
  /** The queue may have claimable builds. Cheap; safe to call any time, also after `stop`. */
  wake(): void;
  /** Builds this runner is running now. */
  readonly busySlots: number;
  /**
   * Kills a running build; the reason ends up in its log and result. `false` when this runner
   * does not run it (it may be queued, finished, or run by another runner). Safe to call twice.
   */
  cancelRunning(id: number, reason: string): boolean;
  /** Resolves when nothing is running and no claim is in progress. */
  idle(): Promise<void>;
  /**
   * Stops claiming and ends what runs (see {@link StopMode}); resolves when every run ended.
   * Safe to call twice (the first mode wins).
   */
  stop(mode: StopMode): Promise<void>;
}

/**
 * `requeue` (a graceful shutdown): builds killed by the stop go back to `queued` and run again at
 * the next start. `abandon` (what a crash leaves; tests simulate one): nothing is recorded, the
 * next start finds them `running` and recovers them (`error: lost`, one re-queue).
 */
export type StopMode = 'requeue' | 'abandon';

/** What a runner reports back, in order per build: started, log growth…, finished. */
export interface RunnerEvents {
  /** The build was claimed and is `running`. */
  readonly onStarted: (build: Build) => void;
  /** The build's log grew to `bytes`. */
  readonly onLog: (buildId: number, bytes: number) => void;
  /** The build's result is recorded and its output events are in the inbox (or it was re-queued). */
  readonly onFinished: (build: Build) => void;
}
