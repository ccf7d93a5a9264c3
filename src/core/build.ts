import type { FailureClass } from './failure-class.js';
import type { JobName, SourceName } from './pipeline.js';

/** Terminal states; a build never leaves one of these. */
export const FINISHED_STATES = [
  'passed',
  'failed',
  'error',
  'cancelled',
  'superseded',
  'skipped',
] as const;
export type FinishedState = (typeof FINISHED_STATES)[number];
export type ActiveState = 'queued' | 'running';
export type BuildState = ActiveState | FinishedState;

export const BUILD_STATES: readonly BuildState[] = ['queued', 'running', ...FINISHED_STATES];

export function isFinished(state: BuildState): state is FinishedState {
  return state !== 'queued' && state !== 'running';
}

/**
 * States whose fingerprint counts as built (scheduler rule 3): a fingerprint with a build in one
 * of these is not built again unless forced. Cancelled, superseded and skipped builds never ran
 * to an answer, so their input set may build later. The snapshot, the SQL store and the model
 * store all read this list.
 */
export const COUNTED_STATES: readonly BuildState[] = [
  'queued',
  'running',
  'passed',
  'failed',
  'error',
];

export function isCounted(state: BuildState): boolean {
  return COUNTED_STATES.includes(state);
}

/** Where an event came from. `output` = a build produced a job output; `reload` = definition change. */
export const EVENT_ORIGINS = [
  'webhook',
  'hook',
  'bus',
  'poll',
  'manual',
  'output',
  'reload',
] as const;
export type EventOrigin = (typeof EVENT_ORIGINS)[number];

/** One input of one build: which version of which source, and the event that announced it. */
export interface BuildInput {
  readonly source: SourceName;
  readonly version: string;
  readonly origin: EventOrigin | null;
  readonly eventId: number | null;
  /** The branch of a git version, when known. */
  readonly ref: string | null;
}

/** An input a person fixed to a version for one build (`trigger --input`, `rebuild`). */
export interface PinnedInput {
  readonly source: SourceName;
  readonly version: string;
  /** The branch the version was seen on, for git sources. */
  readonly ref: string | null;
}

/** Why a build exists: the rule that created it, kept for `nightless why`. */
export type BuildCause =
  | {
      readonly kind: 'version';
      readonly source: SourceName;
      readonly version: string;
      readonly eventId: number | null;
    }
  | { readonly kind: 'definition' }
  | {
      readonly kind: 'manual';
      readonly forced: boolean;
      readonly by: string | null;
      /** Inputs pinned by the trigger; the others took their newest version. Absent: none. */
      readonly pins?: readonly PinnedInput[];
      /** `nightless rebuild N`: every input pinned to build N's versions. */
      readonly rebuildOf?: number;
    }
  | { readonly kind: 'retry'; readonly previousBuild: number }
  | { readonly kind: 'settled'; readonly quietPeriodMs: number };

export interface CoverageSummary {
  readonly lines: number | null;
  readonly branches: number | null;
  readonly linesDelta: number | null;
  readonly branchesDelta: number | null;
}

export interface Build {
  readonly id: number;
  readonly job: JobName;
  readonly state: BuildState;
  readonly fingerprint: string;
  readonly inputs: readonly BuildInput[];
  readonly cause: BuildCause;
  readonly forced: boolean;
  readonly queuedAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** For `failed`/`error`: the step that failed (when a step did). */
  readonly failedStep: string | null;
  /** Human-readable reason for failed/error/cancelled/superseded/skipped. */
  readonly reason: string | null;
  /** Whose failure it is (`core/failure-class.ts`); `null` while active and for passed/skipped. */
  readonly failureClass: FailureClass | null;
  /** `superseded` → the build that replaced it; `skipped` → the identical build. */
  readonly relatedBuild: number | null;
  readonly exitCode: number | null;
  readonly coverage: CoverageSummary | null;
  /** Attempt number, 1 for the first; a build re-queued after `error: lost` counts up. */
  readonly attempt: number;
  /**
   * The job and the branch of its first git input (`build@main`), or the job alone: builds of
   * one group run at most `concurrency` at once, start in queue order, and supersede each other.
   */
  readonly concurrencyGroup: string;
}
