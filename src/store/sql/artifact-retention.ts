import type { Kysely } from 'kysely';
import type { BuildState } from '../../core/build.js';
import type { JobName } from '../../core/pipeline.js';
import type { ArtifactPruneResult } from '../ports.js';
import type { Database } from '../schema.js';
import { outputSourceName, splitOutputSource } from '../../core/output-source.js';

/** Builds that ran and ended: only these count towards a job's window (skips and supersedes never ran). */
const RAN: BuildState[] = ['passed', 'failed', 'error', 'cancelled'];
const ACTIVE: BuildState[] = ['queued', 'running'];
/** Bound on `in (...)` lists, well below every backend's parameter limit. */
const CHUNK = 500;

/**
 * Applies the artifact retention rule (docs/executor.md, "Retention and garbage collection"):
 * a build keeps its `artifacts` rows while
 *
 *  - it is among the newest `keepBuildsPerJob` builds of its job that ran (passed, failed, error,
 *    cancelled), or
 *  - it is the newest build (with files still kept) that produced the current head version of a
 *    job-output source — the build `outputFiles` reads that version's files from — or
 *  - it is that build for a version a queued or running build consumes, or
 *  - it is queued or running itself.
 *
 * Every other build's `artifacts` rows are deleted, in one transaction. `build_outputs` rows stay
 * (digests are history: trace, `why`); a build whose outputs have no files is "pruned" — every
 * collected output has at least one file, so the state needs no column of its own.
 *
 * The `artifacts` rows are the reference counts: a blob that no row names any more is garbage,
 * which `ContentStore.collectGarbage` removes.
 */
export async function pruneArtifacts(
  db: Kysely<Database>,
  keepBuildsPerJob: number | ((job: JobName) => number),
): Promise<ArtifactPruneResult> {
  const keepOf = (job: JobName): number => {
    const keep = typeof keepBuildsPerJob === 'number' ? keepBuildsPerJob : keepBuildsPerJob(job);
    if (!Number.isInteger(keep) || keep < 0)
      throw new RangeError(`keepBuildsPerJob must be an integer >= 0, got ${keep} for job ${job}`);
    return keep;
  };
  if (typeof keepBuildsPerJob === 'number') keepOf('');
  return db.transaction().execute(async (trx) => {
    const candidates = await buildsOutsideWindow(trx, keepOf);
    if (candidates.length === 0) return { buildsPruned: 0, rowsDeleted: 0 };
    const kept = await protectedProducers(trx);
    const prune = candidates.filter((id) => !kept.has(id));
    let rowsDeleted = 0;
    for (let i = 0; i < prune.length; i += CHUNK) {
      const res = await trx
        .deleteFrom('artifacts')
        .where('build_id', 'in', prune.slice(i, i + CHUNK))
        .executeTakeFirst();
      rowsDeleted += Number(res.numDeletedRows);
    }
    return { buildsPruned: prune.length, rowsDeleted };
  });
}

/** Builds holding artifact rows that are not among the newest `keep` builds of their job that ran. */
async function buildsOutsideWindow(
  db: Kysely<Database>,
  keepOf: (job: JobName) => number,
): Promise<number[]> {
  const jobs = await db
    .selectFrom('builds')
    .select('job')
    .distinct()
    .where('id', 'in', (q) => q.selectFrom('artifacts').select('build_id'))
    .execute();
  const out: number[] = [];
  for (const { job } of jobs) {
    const keep = keepOf(job);
    // The oldest build inside the window: the keep-th newest that ran (none: everything is inside).
    let cutoff = Number.MAX_SAFE_INTEGER;
    if (keep > 0) {
      const edge = await db
        .selectFrom('builds')
        .select('id')
        .where('job', '=', job)
        .where('state', 'in', RAN)
        .orderBy('id', 'desc')
        .limit(1)
        .offset(keep - 1)
        .executeTakeFirst();
      if (!edge) continue;
      cutoff = Number(edge.id);
    }
    const rows = await db
      .selectFrom('builds')
      .select('id')
      .where('job', '=', job)
      .where('id', '<', cutoff)
      .where('state', 'not in', ACTIVE)
      .where('id', 'in', (q) => q.selectFrom('artifacts').select('build_id'))
      .execute();
    for (const r of rows) out.push(Number(r.id));
  }
  return out;
}

/**
 * For every job-output version that matters — the current heads, and the inputs of queued and
 * running builds — the newest build whose output with that digest still has its files.
 */
async function protectedProducers(db: Kysely<Database>): Promise<Set<number>> {
  const heads = await db
    .selectFrom('heads')
    .innerJoin('versions', 'versions.id', 'heads.version_id')
    .select(['heads.source', 'versions.version'])
    .execute();
  const inUse = await db
    .selectFrom('build_inputs')
    .innerJoin('builds', 'builds.id', 'build_inputs.build_id')
    .select(['build_inputs.source', 'build_inputs.version'])
    .where('builds.state', 'in', ACTIVE)
    .execute();
  const wanted = new Set<string>();
  for (const v of [...heads, ...inUse]) {
    // Job-output sources are named `job.output`; other sources never match a producer below.
    if (splitOutputSource(v.source)) wanted.add(`${v.source} ${v.version}`);
  }
  const digests = [...new Set([...wanted].map((w) => w.slice(w.lastIndexOf(' ') + 1)))];
  const newest = new Map<string, number>();
  for (let i = 0; i < digests.length; i += CHUNK) {
    const rows = await db
      .selectFrom('build_outputs as bo')
      .innerJoin('builds as b', 'b.id', 'bo.build_id')
      .select(['bo.build_id', 'bo.name', 'bo.digest', 'b.job'])
      .where('bo.digest', 'in', digests.slice(i, i + CHUNK))
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('artifacts as a')
            .select('a.build_id')
            .whereRef('a.build_id', '=', 'bo.build_id')
            .whereRef('a.output', '=', 'bo.name'),
        ),
      )
      .execute();
    for (const r of rows) {
      const key = `${outputSourceName(r.job, r.name)} ${r.digest}`;
      if (!wanted.has(key)) continue;
      newest.set(key, Math.max(newest.get(key) ?? 0, Number(r.build_id)));
    }
  }
  return new Set(newest.values());
}
