import type { Transaction } from 'kysely';
import type { Build } from '../../core/build.js';
import { storedReason } from '../../core/build-ending.js';
import { failureClassOf } from '../../core/failure-class.js';
import type { FinishedRun } from '../ports.js';
import type { Database } from '../schema.js';
import { loadBuild, writeOutbox } from './build-writes.js';
import type { SqlConnection } from './connection.js';
import { insertEvent } from './inbox-store.js';
import { insertRetry } from './queue-retry.js';

/**
 * Records a build's result inside `trx`: its state and reason, coverage (with the delta to the
 * previous build of the job and ref), outputs and their artifact index, the output versions as
 * inbox events and the `finished` outbox row — or, when the runner's retry rule asked for one
 * (`run.retryAt`), the next attempt instead. Local slots and agents share it.
 */
export async function finishBuildIn(
  trx: Transaction<Database>,
  conn: SqlConnection,
  id: number,
  run: FinishedRun,
  now: number,
): Promise<Build> {
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
      lease_expires_at: null,
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
        .values({ build_id: id, output: out.name, path: f.path, digest: f.digest, size: f.size })
        .execute();
    }
  }
  for (const e of run.outputEvents) await insertEvent(trx, e, conn.shapes);
  // A retried attempt is reported once, by its last attempt: its retry instead of `finished`.
  if (run.retryAt === undefined) await writeOutbox(trx, id, 'finished', now);
  else await insertRetry(trx, conn.shapes, id, now, run.retryAt);
  return loadBuild(trx, id);
}

function delta(now: number | null, before: number | null): number | null {
  return now === null || before === null ? null : Math.round((now - before) * 100) / 100;
}
