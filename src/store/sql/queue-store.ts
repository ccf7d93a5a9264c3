import type { Build } from '../../core/build.js';
import { splitOutputSource } from '../../core/output-source.js';
import { storedReason } from '../../core/build-ending.js';
import { failureClassOf } from '../../core/failure-class.js';
import type { SourceName } from '../../core/pipeline.js';
import type { ArtifactFile } from '../../executor/port.js';
import type { FinishedRun, QueuePort } from '../ports.js';
import { loadBuild, writeOutbox } from './build-writes.js';
import { claimNextBuild } from './claim-next-build.js';
import type { SqlConnection } from './connection.js';
import { insertEvent } from './inbox-store.js';
import { insertNextAttempt, insertRetry, nextRetryAt, queueRetry } from './queue-retry.js';
import { artifactFiles } from './read-store.js';

/** {@link QueuePort}: the durable build queue, as local slots (and later agents) see it. */
export class SqlQueue implements QueuePort {
  constructor(private readonly conn: SqlConnection) {}

  claimNextBuild(worker: string, now: number): Promise<Build | null> {
    return claimNextBuild(this.conn, worker, now);
  }

  finishBuild(id: number, run: FinishedRun, now: number): Promise<Build> {
    return this.conn.transaction(async (trx) => {
      const row = await trx
        .selectFrom('builds')
        .selectAll()
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      // Already ended: a retry after a commit whose answer the connection lost, or a build
      // recovered as lost meanwhile. Recording it twice would double its outbox row.
      if (row.state !== 'running') return loadBuild(trx, id);
      const r = run.result;
      const cov = r.coverage;
      let linesDelta: number | null = null;
      let branchesDelta: number | null = null;
      if (cov) {
        let q = trx
          .selectFrom('builds')
          .select(['coverage_lines', 'coverage_branches'])
          .where('job', '=', row.job)
          .where('id', '<', id)
          .where('coverage_lines', 'is not', null);
        q = row.ref === null ? q.where('ref', 'is', null) : q.where('ref', '=', row.ref);
        const prev = await q.orderBy('id', 'desc').limit(1).executeTakeFirst();
        if (prev) {
          linesDelta = delta(cov.lines, prev.coverage_lines);
          branchesDelta = delta(cov.branches, prev.coverage_branches);
        }
      }
      await trx
        .updateTable('builds')
        .set({
          state: r.state,
          finished_at: now,
          failed_step: r.state === 'failed' ? r.step : r.state === 'error' ? r.step : null,
          reason: storedReason(r),
          failure_class: failureClassOf(r),
          exit_code: r.state === 'failed' ? r.exitCode : null,
          coverage_lines: cov?.lines ?? null,
          coverage_branches: cov?.branches ?? null,
          coverage_lines_delta: linesDelta,
          coverage_branches_delta: branchesDelta,
          warnings: JSON.stringify(r.warnings),
          log_bytes: run.logBytes,
        })
        .where('id', '=', id)
        .execute();
      for (const out of r.outputs) {
        await trx
          .insertInto('build_outputs')
          .values({ build_id: id, name: out.name, digest: out.digest })
          .execute();
        for (const f of out.files) {
          await trx
            .insertInto('artifacts')
            .values({
              build_id: id,
              output: out.name,
              path: f.path,
              digest: f.digest,
              size: f.size,
            })
            .execute();
        }
      }
      for (const e of run.outputEvents) await insertEvent(trx, e, this.conn.shapes);
      if (run.retryAt === undefined) await writeOutbox(trx, id, 'finished', now);
      else await insertRetry(trx, this.conn.shapes, id, now, run.retryAt);
      return loadBuild(trx, id);
    });
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
        .set({ state: 'queued', started_at: null, worker: null })
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
      const running = await trx
        .selectFrom('builds')
        .selectAll()
        .where('state', '=', 'running')
        .$if(worker !== undefined, (q) => q.where('worker', '=', worker ?? ''))
        .orderBy('id')
        .execute();
      const lost: Build[] = [];
      const requeued: Build[] = [];
      for (const row of running) {
        await trx
          .updateTable('builds')
          .set({
            state: 'error',
            finished_at: now,
            reason: 'lost: the server stopped while the build was running',
            failure_class: 'infrastructure',
          })
          .where('id', '=', row.id)
          .execute();
        // A newer build of the same group already waits: a retry of these older inputs would
        // start after it (concurrency groups start in queue order), so the newer one replaces it.
        const newer = await trx
          .selectFrom('builds')
          .select('id')
          .where('concurrency_group', '=', row.concurrency_group)
          .where('state', '=', 'queued')
          .where('id', '>', row.id)
          .orderBy('id', 'desc')
          .limit(1)
          .executeTakeFirst();
        if (newer) {
          await trx
            .updateTable('builds')
            .set({ related_build: newer.id })
            .where('id', '=', row.id)
            .execute();
        }
        await writeOutbox(trx, row.id, 'finished', now);
        lost.push(await loadBuild(trx, row.id));
        if (row.attempt < maxAttempts && !newer) {
          const newId = await insertNextAttempt(trx, this.conn.shapes, row, now);
          requeued.push(await loadBuild(trx, newId));
        }
      }
      return { lost, requeued };
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

function delta(now: number | null, before: number | null): number | null {
  return now === null || before === null ? null : Math.round((now - before) * 100) / 100;
}
