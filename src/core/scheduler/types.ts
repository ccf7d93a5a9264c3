import type { BuildCause, BuildInput, BuildState, EventOrigin } from '../build.js';
import type { JobName, Pipeline, SourceName } from '../pipeline.js';

/** The newest version of a source on one ref (git branch); non-git sources have one head, ref `null`. */
export interface SourceHead {
  readonly source: SourceName;
  readonly version: string;
  readonly ref: string | null;
  readonly eventId: number | null;
  readonly origin: EventOrigin | null;
  /** Arrival order across all heads: the larger, the newer. */
  readonly seq: number;
  /** For job outputs: the build that produced this version. */
  readonly producedBy: number | null;
}

/** What the scheduler needs to know about an existing build. */
export interface BuildRef {
  readonly id: number;
  readonly job: JobName;
  readonly state: BuildState;
  readonly fingerprint: string;
  readonly forced: boolean;
  /** Its concurrency group (`core/concurrency-group.ts`): supersede and cancel stay inside it. */
  readonly group: string;
}

/**
 * The store's state as the scheduler sees it. Implementations answer synchronously from
 * memory; the shell keeps them current as it applies decisions.
 */
export interface SchedulerSnapshot {
  readonly pipeline: Pipeline;
  definitionHash(job: JobName): string;
  heads(source: SourceName): readonly SourceHead[];
  /** A build that counts as "built" for this fingerprint: queued, running, passed, failed or error. */
  buildWithFingerprint(fingerprint: string): BuildRef | undefined;
  /** Queued and running builds of the job, oldest first. */
  activeBuilds(job: JobName): readonly BuildRef[];
  /** Definition hash of the job's newest build, `undefined` when it never built. */
  lastDefinitionHash(job: JobName): string | undefined;
}

/** The rule behind a decision; `nightless why` prints these. */
export const RULES = [
  'new-version',
  'duplicate',
  'ancestor',
  'early-cutoff',
  'stale-output',
  'built',
  'forced',
  'definition-changed',
  'settled',
  'same-fingerprint',
  'filtered-branch',
  'filtered-paths',
  'deferred',
  'waiting-input',
  'unknown-source',
  'unknown-job',
  'request-closed',
] as const;
export type Rule = (typeof RULES)[number];

interface DecisionBase {
  readonly rule: Rule;
  /** One sentence for people: "app@3f2a1c0 is already the head of app". */
  readonly detail: string;
  readonly job: JobName | null;
  readonly source: SourceName | null;
  readonly version: string | null;
}

export type Decision =
  | (DecisionBase & { readonly kind: 'record-duplicate' })
  | (DecisionBase & {
      readonly kind: 'advance-head';
      readonly source: SourceName;
      readonly version: string;
      readonly ref: string | null;
      readonly origin: EventOrigin;
      readonly producedBy: number | null;
    })
  | (DecisionBase & {
      readonly kind: 'queue-build';
      readonly job: JobName;
      readonly fingerprint: string;
      readonly definitionHash: string;
      readonly inputs: readonly BuildInput[];
      readonly cause: BuildCause;
      readonly forced: boolean;
      /** Queued builds of the job this one replaces (they become `superseded`, pointing here). */
      readonly supersedes: readonly number[];
      /** Running builds to cancel (`cancel_running: true`). */
      readonly cancels: readonly number[];
      /**
       * The group whose running builds the claim counts, how many may run at once, and whether a
       * newer build of it may replace this one (the job's `supersede:`; also once it is lost).
       */
      readonly concurrency: {
        readonly group: string;
        readonly limit: number;
        readonly supersede: boolean;
      };
    })
  | (DecisionBase & {
      /** A version that builds nothing but must be visible: stored as a `skipped` build. */
      readonly kind: 'record-skip';
      readonly job: JobName;
      readonly fingerprint: string;
      readonly definitionHash: string;
      readonly inputs: readonly BuildInput[];
      readonly cause: BuildCause;
      readonly identicalTo: number | null;
      readonly reason: string;
      /** The concurrency group the input set belongs to (shown on the skipped build). */
      readonly group: string;
      /** Queued builds of older input sets: the newest set is already built, so they are moot. */
      readonly supersedes: readonly number[];
    })
  | (DecisionBase & { readonly kind: 'defer'; readonly job: JobName; readonly until: number })
  | (DecisionBase & {
      /** A closed change request: its queued builds are cancelled, and `running` ones killed. */
      readonly kind: 'cancel-builds';
      readonly job: JobName;
      readonly queued: readonly number[];
      readonly running: readonly number[];
    })
  | (DecisionBase & { readonly kind: 'note' });

export type DecisionKind = Decision['kind'];
