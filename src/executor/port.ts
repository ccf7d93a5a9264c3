import type { BuildInput, CoverageSummary } from '../core/build.js';
import type { JobDef, SourceDef } from '../core/pipeline.js';

/** One input as the executor needs it: the build's version plus where to fetch it from. */
export interface RunInput extends BuildInput {
  readonly def: SourceDef;
  /** For job-output inputs: the files of that output, from the artifact store. */
  readonly files: readonly ArtifactFile[];
  /** A change request built as its merge result (`checkout: merge`): the branch to merge in. */
  readonly mergeTarget?: string;
}

export interface ArtifactFile {
  /** Path relative to the output root, `/`-separated, never absolute, never containing `..`. */
  readonly path: string;
  readonly digest: string;
  readonly size: number;
}

export interface RunSpec {
  readonly buildId: number;
  readonly job: JobDef;
  readonly inputs: readonly RunInput[];
  /** Values to mask in logs (resolved secrets of the pipeline plus the job's `secrets:`). */
  readonly secretValues: readonly string[];
  /** Extra environment for every step (NIGHTLESS_BUILD_ID, NIGHTLESS_BUILD_URL, ...). */
  readonly env: Readonly<Record<string, string>>;
  /**
   * Set (to why) for a build of code nobody trusted yet — a change request from a fork whose head
   * is not approved: sandboxed unless the job says `isolation: none`, given no secret values.
   */
  readonly untrusted?: string;
}

/**
 * Called by the executor while a build runs; implementations must not throw. Step progress is
 * in the log itself (`==> step`, `<== exit` lines), which is what followers read.
 */
export interface RunObserver {
  /** New log bytes were written (for live followers); `bytes` is the log file's size now. */
  logAdvanced(bytes: number): void;
}

export interface CollectedOutput {
  readonly name: string;
  /** sha256 of the content; for several files, of the sorted `path digest` list. */
  readonly digest: string;
  readonly files: readonly ArtifactFile[];
}

/** Infrastructure failure codes: stable, documented, never a failing test. */
export type RunErrorCode =
  | 'timeout'
  | 'step-timeout'
  | 'no-output-timeout'
  | 'checkout'
  /** One of nightless' own network operations failed: refused, reset, DNS, stalled, too slow. */
  | 'network'
  /** The disk is full (ENOSPC) where nightless or a step writes. */
  | 'disk'
  | 'workspace'
  | 'outputs'
  | 'lost'
  /** A `publish:` target (SFTP) failed after the steps passed. */
  | 'publish'
  /** `isolation: sandbox` and bubblewrap could not start: the step never ran. */
  | 'sandbox'
  | 'internal';

export type RunOutcome =
  | { readonly state: 'passed' }
  | {
      readonly state: 'failed';
      readonly step: string;
      readonly exitCode: number;
      readonly reason: string;
      /** The signal that ended the step's process, when one did. */
      readonly signal?: string | null;
    }
  | {
      readonly state: 'error';
      readonly code: RunErrorCode;
      readonly step: string | null;
      readonly reason: string;
    }
  | { readonly state: 'cancelled'; readonly reason: string };

export type RunResult = RunOutcome & {
  readonly outputs: readonly CollectedOutput[];
  readonly coverage: Pick<CoverageSummary, 'lines' | 'branches'> | null;
  readonly warnings: readonly string[];
};

/**
 * Runs one build to completion. `run` resolves (never rejects) with the outcome; aborting the
 * signal kills the build's whole process tree within a second and resolves `cancelled`.
 * Safe to run several builds at once; each gets its own workspace.
 */
export interface Executor {
  run(spec: RunSpec, observer: RunObserver, signal: AbortSignal): Promise<RunResult>;
  /**
   * A build was running when the previous server process died: kill whatever it left behind.
   * Returns how many processes were killed. Safe to call for builds that left nothing.
   */
  reapLost?(buildId: number): Promise<number>;
  /**
   * Like `reapLost` for every build this executor's data directory ever ran: for a server that
   * starts, before it runs anything (nothing of its own can be alive then). Returns how many
   * processes were killed.
   */
  reapAllLost?(): Promise<number>;
  /**
   * Appends a system line to a build's log, for endings decided outside `run` (lost at a restart,
   * a failed publish, re-queued at shutdown, cancelled while queued); `secrets` are masked.
   * Resolves with the log's size, or `null` when the line could not be written; never rejects.
   */
  appendSystemLine?(
    buildId: number,
    text: string,
    secrets?: readonly string[],
  ): Promise<number | null>;
}

/**
 * A copy of build logs kept beside the local files, which any server replica can read (the
 * database of a PostgreSQL installation; `executor/log-shipper.ts`). Whoever appends to a log
 * file calls `restore` before and `grew` after.
 */
export interface LogReplica {
  /**
   * Brings the local log file up to the shared copy (a build retried here after another replica
   * ran it, an agent that moved here), so appended bytes land at the same offsets in both.
   * With `wait`, an unavailable store is waited for (until `wait` aborts); without, it throws.
   */
  restore(buildId: number, wait?: AbortSignal): Promise<void>;
  /** The local file grew: its new bytes are copied soon (batched); never throws. */
  grew(buildId: number): void;
}
