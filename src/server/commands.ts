import type { Build, PinnedInput } from '../core/build.js';
import type { JobName } from '../core/pipeline.js';
import type { DecisionRecord } from '../store/ports.js';

export interface TriggerRequest {
  /** Build even when an identical input set was built before. */
  readonly force: boolean;
  /** Who asked (a token name, `api`); `null` when unknown. */
  readonly by: string | null;
  /** Inputs fixed to versions the store has seen (the caller resolved them). */
  readonly pins?: readonly PinnedInput[];
  /** The build this one re-runs (`POST /api/builds/:id/rebuild`). */
  readonly rebuildOf?: number | null;
}

export interface TriggerResult {
  readonly eventId: number;
  /** The build the trigger queued, or `null` when it built nothing (see `decisions`). */
  readonly build: Build | null;
  readonly decisions: readonly DecisionRecord[];
}

/**
 * What the HTTP API may change, and nothing else: every other route only reads. The server's port
 * (it is its only caller); `Engine` implements it in the embedded deployment.
 */
export interface Commands {
  /**
   * Writes a trigger event to the inbox and resolves once the scheduler decided it: runs `job`
   * with the current input versions (or `pins`); without `force`, identical inputs aren't rebuilt.
   */
  trigger(job: JobName, request: TriggerRequest): Promise<TriggerResult>;
  /**
   * Cancels a queued or running build; a finished one is returned unchanged, an unknown id gives
   * `null`. Safe to call twice.
   */
  cancel(id: number, by: string | null): Promise<Build | null>;
}
