import type { JobName } from '../../core/pipeline.js';

/** Which stored blobs builds still reference (artifact garbage collection). */
export interface ArtifactIndexPort {
  /** True while at least one `artifacts` row names the blob (the row count is its reference count). */
  referencedDigest(digest: string): Promise<boolean>;
  /** Those of `digests` (at most 500) that at least one `artifacts` row names. */
  referencedDigests(digests: readonly string[]): Promise<Set<string>>;
  /**
   * Applies the retention rule (docs/executor.md, "Retention and garbage collection"): deletes the
   * `artifacts` rows of builds outside their job's newest `keepBuildsPerJob` builds, unless they
   * hold the head version of a job output or an input of a queued/running build. `build_outputs`
   * rows stay; such a build's outputs then list no files (pruned).
   */
  pruneArtifacts(
    keepBuildsPerJob: number | ((job: JobName) => number),
  ): Promise<ArtifactPruneResult>;
}

export interface ArtifactPruneResult {
  /** Builds whose artifact rows were deleted by this call. */
  readonly buildsPruned: number;
  readonly rowsDeleted: number;
}
