import { sql, type Kysely } from 'kysely';
import type { BuildCause, BuildState } from '../../core/build.js';
import { failureClassOfStored, isFailureClass } from '../../core/failure-class.js';
import type { DeliveryObservation } from '../../core/slo/delivery-tally.js';
import type { TraceObservation } from '../../core/slo/lead-time.js';
import type { SloObservation } from '../../core/slo/slo-set.js';
import type { Database } from '../schema.js';

/**
 * The lifecycle changes since `since` that SLOs count, rebuilt from the builds table once at
 * start (the SLO counters live in memory and are fed by the outbox afterwards): one `started`
 * per first attempt caused by a version, one `finished` per build that finished. Two range
 * queries on indexed times (`finished_at`: migration 0008), not a scan of history.
 */
export async function sloHistory(
  db: Kysely<Database>,
  since: number,
): Promise<Array<SloObservation | DeliveryObservation | TraceObservation>> {
  const out: Array<SloObservation | DeliveryObservation | TraceObservation> = [];
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
    // An attempt a retry followed wrote no `finished` event (reported once, at the end), so live
    // counting never saw it; a lost build (which did write one) also links a newer build.
    .where((eb) =>
      eb.or([
        eb('related_build', 'is', null),
        eb('related_build', '<', eb.ref('id')),
        eb('reason', 'like', 'lost:%'),
      ]),
    )
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
    // A version's first start counts (SloSet): in start order, the first seen is the first.
    .orderBy('started_at')
    .execute();
  const eventAt = await eventTimes(db, started);
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
        ...(type === 'started' ? { eventAt: eventAt.get(causeEvent(r.cause)) ?? null } : {}),
      });
  out.push(...(await deliveryHistory(db, since)));
  out.push(...(await traceHistory(db, since)));
  return out;
}

/**
 * `lead_time` at start: the versions whose traces ended since `since` or are still open — the
 * roots of builds that finished since then or are active (both indexed: `finished_at`, `state`),
 * with what the root event says (`trace_done_at` is null while open or not settled yet; the
 * monitor asks `TracePort.settleTraces` about those next).
 */
async function traceHistory(db: Kysely<Database>, since: number): Promise<TraceObservation[]> {
  const roots = new Set<number>();
  const ended = await db
    .selectFrom('builds')
    .select('trace_root')
    .distinct()
    .where('finished_at', '>=', since)
    .where('trace_root', 'is not', null)
    .execute();
  const active = await db
    .selectFrom('builds')
    .select('trace_root')
    .distinct()
    .where('state', 'in', ['queued', 'running'])
    .where('trace_root', 'is not', null)
    .execute();
  for (const r of [...ended, ...active]) if (r.trace_root !== null) roots.add(Number(r.trace_root));
  const ids = [...roots];
  const out: TraceObservation[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const found = await db
      .selectFrom('events')
      .select(['id', 'received_at', 'trace_done_at'])
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const e of found)
      out.push({
        type: 'trace',
        root: Number(e.id),
        receivedAt: Number(e.received_at),
        doneAt: e.trace_done_at === null ? null : Number(e.trace_done_at),
      });
  }
  return out;
}

/**
 * `delivery` at start: the outbox events since `since` whose per-target deliveries (HTTP targets
 * keep one row each) are all finished — good data for `ok`, the last `delivered_at` for when.
 * Stream targets (AMQP) keep only a cursor, so history knows nothing of their timing; live
 * counting does.
 */
async function deliveryHistory(
  db: Kysely<Database>,
  since: number,
): Promise<DeliveryObservation[]> {
  const rows = await db
    .selectFrom('deliveries as d')
    .innerJoin('outbox as o', 'o.id', 'd.outbox_id')
    .select((eb) => [
      'o.created_at',
      eb.fn.max('d.delivered_at').as('done_at'),
      eb.fn.sum<number>(sql`case when d.state = 'delivered' then 0 else 1 end`).as('not_ok'),
      eb.fn.sum<number>(sql`case when d.state = 'pending' then 1 else 0 end`).as('pending'),
    ])
    .where('o.created_at', '>=', since)
    .groupBy(['d.outbox_id', 'o.created_at'])
    .execute();
  return rows
    .filter((r) => Number(r.pending) === 0)
    .map((r) => ({
      type: 'delivered' as const,
      createdAt: Number(r.created_at),
      doneAt: r.done_at === null ? Number(r.created_at) : Number(r.done_at),
      ok: Number(r.not_ok) === 0,
    }));
}

/** The event id a version-caused build names in its cause (`-1`: none). */
function causeEvent(cause: string): number {
  const c = JSON.parse(cause) as BuildCause;
  return c.kind === 'version' && c.eventId !== null ? c.eventId : -1;
}

/** When the events the builds' causes name were received: indexed lookups by id, in chunks. */
async function eventTimes(
  db: Kysely<Database>,
  rows: ReadonlyArray<{ cause: string }>,
): Promise<Map<number, number>> {
  const ids = [...new Set(rows.map((r) => causeEvent(r.cause)).filter((id) => id >= 0))];
  const times = new Map<number, number>();
  for (let i = 0; i < ids.length; i += 500) {
    const found = await db
      .selectFrom('events')
      .select(['id', 'received_at'])
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const e of found) times.set(Number(e.id), Number(e.received_at));
  }
  return times;
}
