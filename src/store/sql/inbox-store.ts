import { sql, type Insertable } from 'kysely';
import type { AppendedEvent, InboxPort, NewEvent } from '../ports.js';
import type { Database } from '../schema.js';
import type { Db, Shapes, SqlConnection } from './connection.js';

/** {@link InboxPort}: events are durable once `appendEvent` resolves. */
export class SqlInbox implements InboxPort {
  constructor(private readonly conn: SqlConnection) {}

  async appendEvent(event: NewEvent): Promise<AppendedEvent> {
    const [appended] = await this.appendEvents([event]);
    if (!appended) throw new Error('appendEvents returned nothing');
    return appended;
  }

  async appendEvents(events: readonly NewEvent[]): Promise<AppendedEvent[]> {
    const known = await this.knownDeliveries(events);
    if (known) return known;
    return this.conn.transaction(async (trx) => {
      const out: AppendedEvent[] = [];
      for (const e of events) out.push(await insertEvent(trx, e, this.conn.shapes));
      return out;
    });
  }

  /**
   * The stored ids when every event is a redelivery of a stored delivery id, else `null`. Read
   * outside any transaction: a redelivery then costs one SELECT instead of a write transaction
   * whose insert conflicts (2.3× the CPU, bench/RESULTS.md "Seams refactor"). Only a shortcut:
   * a read inside the write transaction would make SQLite refuse the upgrade to a writer under
   * concurrent appends (SQLITE_BUSY), and races stay decided by `ON CONFLICT` below.
   */
  private async knownDeliveries(events: readonly NewEvent[]): Promise<AppendedEvent[] | null> {
    const out: AppendedEvent[] = [];
    for (const e of events) {
      if (e.kind !== 'source' || e.deliveryId === null) return null;
      const { rows } = await this.conn.run(hot.eventByDelivery, { deliveryId: e.deliveryId });
      const first = rows[0];
      if (!first) return null;
      out.push({ id: Number(first.id), redelivery: true });
    }
    return out;
  }
}

/**
 * Writes one event inside `trx` (the inbox, and the queue's and scheduler's own events: build
 * outputs, settles). A source event whose delivery id was stored before writes nothing.
 */
export async function insertEvent(trx: Db, e: NewEvent, shapes: Shapes): Promise<AppendedEvent> {
  const base = { received_at: e.receivedAt };
  let values: Insertable<Database['events']>;
  switch (e.kind) {
    case 'source':
      return insertSourceEvent(trx, e, shapes);
    case 'trigger':
      values = {
        ...base,
        kind: 'trigger',
        origin: 'manual',
        detail: JSON.stringify({
          job: e.job,
          force: e.force,
          by: e.by,
          pins: e.pins ?? [],
          rebuildOf: e.rebuildOf ?? null,
        }),
      };
      break;
    case 'settle':
      values = {
        ...base,
        kind: 'settle',
        origin: 'manual',
        detail: JSON.stringify({ job: e.job }),
      };
      break;
    case 'reconcile':
      values = { ...base, kind: 'reconcile', origin: 'reload' };
      break;
  }
  const row = await trx
    .insertInto('events')
    .values(values)
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: Number(row.id), redelivery: false };
}

/**
 * The database dedupes delivery ids: `INSERT … ON CONFLICT (delivery_id) DO NOTHING RETURNING id`
 * inserts for exactly one of several writers racing with the same id (other connections, other
 * processes, other replicas); the others insert nothing and read the first delivery's id. A
 * select-then-insert would let two writers both see nothing, and the second's insert fail.
 */
async function insertSourceEvent(
  trx: Db,
  e: Extract<NewEvent, { kind: 'source' }>,
  shapes: Shapes,
): Promise<AppendedEvent> {
  // The inbox's hottest statement: every column given, so one compiled shape serves all (a
  // null delivery id never conflicts).
  const { rows } = await shapes.run(trx, hot.insertSourceEvent, {
    receivedAt: e.receivedAt,
    source: e.source,
    version: e.version,
    ref: e.ref,
    origin: e.origin,
    deliveryId: e.deliveryId,
    producedBy: e.producedBy,
    detail: JSON.stringify({
      changedPaths: e.changedPaths,
      producedBy: e.producedBy,
      ...(e.request === undefined ? {} : { request: e.request }),
    }),
  });
  const row = rows[0];
  if (row) return { id: Number(row.id), redelivery: false };
  if (e.deliveryId === null) throw new Error('inserting the event returned no id');
  const seen = await shapes.run(trx, hot.eventByDelivery, { deliveryId: e.deliveryId });
  const first = seen.rows[0];
  if (!first)
    throw new Error(`delivery ${e.deliveryId} conflicted with an event that no longer exists`);
  return { id: Number(first.id), redelivery: true };
}

/** The inbox's hot statements (see `Shapes`). */
const hot = {
  eventByDelivery: (db: Db, p: { deliveryId: string }) =>
    db.selectFrom('events').select('id').where('delivery_id', '=', p.deliveryId),
  insertSourceEvent: (
    db: Db,
    p: {
      receivedAt: number;
      source: string;
      version: string;
      ref: string | null;
      origin: string;
      deliveryId: string | null;
      producedBy: number | null;
      detail: string;
    },
  ) =>
    db
      .insertInto('events')
      .values({
        received_at: p.receivedAt,
        kind: 'source',
        source: p.source,
        version: p.version,
        ref: p.ref,
        origin: p.origin,
        delivery_id: p.deliveryId,
        detail: p.detail,
        // An output event continues its producer's trace (`lead_time`); null for other origins.
        trace_root: sql<
          number | null
        >`(select b.trace_root from builds b where b.id = ${p.producedBy})`,
      })
      .onConflict((oc) => oc.column('delivery_id').doNothing())
      .returning('id'),
};
