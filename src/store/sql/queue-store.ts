import type { Build } from '../../core/build.js';
import { splitOutputSource } from '../../core/output-source.js';
import type { SourceName } from '../../core/pipeline.js';
import type { ArtifactFile } from '../../executor/port.js';
import type { ClaimFilter, FinishedRun, QueuePort } from '../ports.js';
import { loadBuild, writeOutbox } from './build-writes.js';
import { claimNextBuild } from './claim-next-build.js';
import type { SqlConnection } from './connection.js';
import { finishBuildIn } from './finish-build.js';
import { LOST_AT_RESTART, loseBuilds } from './lose-builds.js';
import { nextRetryAt, queueRetry } from './queue-retry.js';
import { artifactFiles } from './read-store.js';

/** {@link QueuePort}: the durable build queue, as local slots (and later agents) see it. */
export class SqlQueue implements QueuePort {
  constructor(private readonly conn: SqlConnection) {}

  claimNextBuild(worker: string, now: number, filter?: ClaimFilter): Promise<Build | null> {
    return claimNextBuild(this.conn, worker, now, filter);
  }

  finishBuild(id: number, run: FinishedRun, now: number): Promise<Build> {
    return this.conn.transaction((trx) => finishBuildIn(trx, this.conn, id, run, now));
  }

  queueRetry(previous: number, now: number, notBefore?: number): Promise<Build | null> {
    return queueRetry(this.conn, previous, now, notBefore ?? null);
  }

  nextRetryAt(now: number): Promise<number | null> {
    return nextRetryAt(this.conn.db, now);
  }

  requeueBuild(id: number, now: number): Promise<Build | null> {
    return this.conn.transaction(async (trx) => {
      const res = await trx
        .updateTable('builds')
        .set({ state: 'queued', started_at: null, worker: null, lease_expires_at: null })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) === 0) return null;
      await writeOutbox(trx, id, 'queued', now);
      return loadBuild(trx, id);
    });
  }

  cancelQueuedBuild(id: number, reason: string, now: number): Promise<Build | null> {
    return this.conn.transaction(async (trx) => {
      const res = await trx
        .updateTable('builds')
        .set({ state: 'cancelled', finished_at: now, reason, failure_class: 'cancelled' })
        .where('id', '=', id)
        .where('state', '=', 'queued')
        .executeTakeFirst();
      if (Number(res.numUpdatedRows) > 0) await writeOutbox(trx, id, 'cancelled', now);
      const row = await trx
        .selectFrom('builds')
        .select('id')
        .where('id', '=', id)
        .executeTakeFirst();
      return row ? loadBuild(trx, id) : null;
    });
  }

  recoverLostBuilds(
    now: number,
    maxAttempts: number,
    worker?: string,
  ): Promise<{ lost: Build[]; requeued: Build[] }> {
    return this.conn.transaction(async (trx) => {
      // Builds an agent holds a lease on are not lost by a server restart: their lease decides.
      // A restarted replica's own builds are, leased or not: it is the worker, and it runs
      // nothing yet (its data directory lock rules out a second process of the same name).
      const running = await trx
        .selectFrom('builds')
        .selectAll()
        .where('state', '=', 'running')
        .$if(worker !== undefined, (q) => q.where('worker', '=', worker ?? ''))
        .$if(worker === undefined, (q) => q.where('lease_expires_at', 'is', null))
        .orderBy('id')
        .execute();
      return loseBuilds(trx, this.conn, running, () => LOST_AT_RESTART, now, maxAttempts);
    });
  }

  async outputFiles(source: SourceName, version: string): Promise<ArtifactFile[]> {
    const { job, output } = splitOutputSource(source) ?? { job: source, output: '' };
    const producer = await this.conn.db
      .selectFrom('build_outputs')
      .innerJoin('builds', 'builds.id', 'build_outputs.build_id')
      .select('build_outputs.build_id')
      .where('builds.job', '=', job)
      .where('build_outputs.name', '=', output)
      .where('build_outputs.digest', '=', version)
      // The newest producer whose files were not pruned by artifact retention.
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('artifacts')
            .select('artifacts.build_id')
            .whereRef('artifacts.build_id', '=', 'build_outputs.build_id')
            .whereRef('artifacts.output', '=', 'build_outputs.name'),
        ),
      )
      .orderBy('build_outputs.build_id', 'desc')
      .limit(1)
      .executeTakeFirst();
    if (!producer) return [];
    return artifactFiles(this.conn.db, Number(producer.build_id), output);
  }
}
