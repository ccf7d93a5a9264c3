import type { Kysely } from 'kysely';
import type { BuildCause, BuildState } from '../../core/build.js';
import { failureClassOfStored, isFailureClass } from '../../core/failure-class.js';
import type { SloObservation } from '../../core/slo/slo-set.js';
import type { Database } from '../schema.js';

/**
 * The lifecycle changes since `since` that SLOs count, rebuilt from the builds table once at
 * start (the SLO counters live in memory and are fed by the outbox afterwards): one `started`
 * per first attempt caused by a version, one `finished` per build that finished. Two range
 * queries on indexed times (`finished_at`: migration 0008), not a scan of history.
 */
export async function sloHistory(db: Kysely<Database>, since: number): Promise<SloObservation[]> {
  const out: SloObservation[] = [];
  const finished = await db
    .selectFrom('builds')
    .select([
      'state',
      'reason',
      'failure_class',
      'attempt',
      'cause',
      'queued_at',
      'started_at',
      'finished_at',
    ])
    .where('finished_at', '>=', since)
    .where('state', 'in', ['passed', 'failed', 'error'])
    .execute();
  const started = await db
    .selectFrom('builds')
    .select([
      'state',
      'reason',
      'failure_class',
      'attempt',
      'cause',
      'queued_at',
      'started_at',
      'finished_at',
    ])
    .where('queued_at', '>=', since)
    .where('started_at', 'is not', null)
    .where('attempt', '=', 1)
    .execute();
  for (const [type, rows] of [['finished', finished] as const, ['started', started] as const])
    for (const r of rows)
      out.push({
        type,
        build: {
          state: r.state as BuildState,
          failureClass: isFailureClass(r.failure_class)
            ? r.failure_class
            : failureClassOfStored(r.state, r.reason),
          attempt: r.attempt,
          cause: JSON.parse(r.cause) as BuildCause,
          queuedAt: Number(r.queued_at),
          startedAt: r.started_at === null ? null : Number(r.started_at),
          finishedAt: r.finished_at === null ? null : Number(r.finished_at),
        },
      });
  return out;
}
