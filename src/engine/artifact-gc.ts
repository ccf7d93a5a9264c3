import type { Logger } from 'pino';
import type { ContentStore } from '../artifacts/content-store.js';
import type { ArtifactIndexPort } from '../store/ports.js';

export interface ArtifactGcOptions {
  readonly store: ArtifactIndexPort;
  readonly artifacts: ContentStore;
  /** `keep_builds`: builds per job whose artifacts are kept (docs/executor.md); default 20. */
  readonly keepBuildsPerJob?: number;
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

export const DEFAULT_KEEP_BUILDS_PER_JOB = 20;

/**
 * One artifact garbage collection: the retention rule deletes the `artifacts` rows of builds that
 * no longer retain their files, then every blob no row references (and older than `minAgeMs`) is
 * removed from the content store. Rows first, blobs second: a crash between the two leaves only
 * garbage for the next run, never a row naming a missing blob.
 */
export async function runArtifactGc(opts: ArtifactGcOptions): Promise<ArtifactGcResult> {
  const { store, artifacts, logger } = opts;
  const keep = opts.keepBuildsPerJob ?? DEFAULT_KEEP_BUILDS_PER_JOB;
  const started = Date.now();
  const { buildsPruned, rowsDeleted } = await store.pruneArtifacts(keep);
  const bytesFreed = await artifacts.collectGarbage((d) => store.referencedDigest(d), {
    ...(opts.minAgeMs === undefined ? {} : { minAgeMs: opts.minAgeMs }),
    ...(opts.now === undefined ? {} : { now: opts.now }),
  });
  logger.info(
    { buildsPruned, rowsDeleted, bytesFreed, keepBuildsPerJob: keep, ms: Date.now() - started },
    'artifact garbage collection done',
  );
  return { buildsPruned, rowsDeleted, bytesFreed };
}
