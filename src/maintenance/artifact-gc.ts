import type { Logger } from 'pino';
import type { ContentStore } from '../artifacts/content-store.js';
import type { JobName } from '../core/pipeline.js';
import { DEFAULT_ARTIFACT_BUILDS } from '../core/retention.js';
import type { ArtifactIndexPort } from '../store/ports.js';

export interface ArtifactGcOptions {
  readonly store: ArtifactIndexPort;
  readonly artifacts: ContentStore;
  /**
   * Builds per job whose artifacts are kept (`retention.artifacts`, docs/executor.md): one number
   * for every job, or per job; default `DEFAULT_ARTIFACT_BUILDS` (`core/retention.ts`).
   */
  readonly keepBuildsPerJob?: number | ((job: JobName) => number);
  readonly logger: Logger;
  /** Blobs modified more recently than this are never removed; default 1 h (see `collectGarbage`). */
  readonly minAgeMs?: number;
  readonly now?: number;
}

export interface ArtifactGcResult {
  readonly buildsPruned: number;
  readonly rowsDeleted: number;
  readonly bytesFreed: number;
}

/**
 * One artifact garbage collection: the retention rule deletes the `artifacts` rows of builds that
 * no longer retain their files, then every blob no row references (and older than `minAgeMs`) is
 * removed from the content store. Rows first, blobs second: a crash between the two leaves only
 * garbage for the next run, never a row naming a missing blob.
 */
export async function runArtifactGc(opts: ArtifactGcOptions): Promise<ArtifactGcResult> {
  const { store, artifacts, logger } = opts;
  const keep = opts.keepBuildsPerJob ?? DEFAULT_ARTIFACT_BUILDS;
  const started = Date.now();
  const { buildsPruned, rowsDeleted } = await store.pruneArtifacts(keep);
  const bytesFreed = await artifacts.collectGarbage((d) => store.referencedDigest(d), {
    ...(opts.minAgeMs === undefined ? {} : { minAgeMs: opts.minAgeMs }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  logger.info(
    {
      buildsPruned,
      rowsDeleted,
      bytesFreed,
      keepBuildsPerJob: typeof keep === 'number' ? keep : 'per job',
      ms: Date.now() - started,
    },
    'artifact garbage collection done',
  );
  return { buildsPruned, rowsDeleted, bytesFreed };
}
