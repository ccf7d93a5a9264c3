import type { Kysely, Selectable } from 'kysely';
import type {
  DeliveryPort,
  DeliveryRecord,
  DeliveryState,
  OutboxType,
  ReportCursor,
} from '../ports.js';
import type { Database } from '../schema.js';
import type { SqlConnection } from './connection.js';

type DeliveryRow = Selectable<Database['deliveries']> & { build_id: number; type: string };

/**
 * {@link DeliveryPort} over the same Kysely database as the other ports (same queries on every SQL
 * backend). Every method is one statement or one transaction.
 */
export class SqlDeliveryStore implements DeliveryPort {
  private readonly db: Kysely<Database>;

  constructor(private readonly conn: SqlConnection) {
    this.db = conn.db;
  }

  async ensureCursor(
    target: string,
    kind: string,
    startAfter: number,
    now: number,
  ): Promise<number> {
    await this.db
      .insertInto('report_cursors')
      .values({ target, kind, last_outbox_id: startAfter, last_error: null, updated_at: now })
      .onConflict((oc) => oc.column('target').doNothing())
      .execute();
    const row = await this.db
      .selectFrom('report_cursors')
      .select('last_outbox_id')
      .where('target', '=', target)
      .executeTakeFirstOrThrow();
    return Number(row.last_outbox_id);
  }

  async advanceCursor(target: string, outboxId: number, now: number): Promise<void> {
    await advance(this.db, target, outboxId, now);
  }

  async setCursorError(target: string, error: string | null, now: number): Promise<void> {
    await this.db
      .updateTable('report_cursors')
      .set({ last_error: error, updated_at: now })
      .where('target', '=', target)
      .execute();
  }

  async listCursors(): Promise<ReportCursor[]> {
    const rows = await this.db.selectFrom('report_cursors').selectAll().orderBy('target').execute();
    return rows.map((r) => ({
      target: r.target,
      kind: r.kind,
      lastOutboxId: Number(r.last_outbox_id),
      lastError: r.last_error,
      updatedAt: Number(r.updated_at),
    }));
  }

  async openDelivery(outboxId: number, target: string, now: number): Promise<DeliveryRecord> {
    await this.db
      .insertInto('deliveries')
      .values({
        outbox_id: outboxId,
        target,
        state: 'pending',
        next_attempt_at: now,
        last_error: null,
        created_at: now,
        delivered_at: null,
      })
      .onConflict((oc) => oc.columns(['outbox_id', 'target']).doNothing())
      .execute();
    const row = await this.selectDeliveries()
      .where('deliveries.outbox_id', '=', outboxId)
      .where('deliveries.target', '=', target)
      .executeTakeFirstOrThrow();
    return toDelivery(row);
  }

  recordAttempt(
    id: number,
    outcome: Parameters<DeliveryPort['recordAttempt']>[1],
    advanceTo: { readonly target: string; readonly outboxId: number } | null,
    now: number,
  ): Promise<void> {
    return this.conn.transaction(async (trx) => {
      await trx
        .updateTable('deliveries')
        .set((eb) => ({
          state: outcome.state,
          attempts: eb('attempts', '+', 1),
          next_attempt_at: outcome.state === 'pending' ? outcome.nextAttemptAt : null,
          last_error: outcome.state === 'delivered' ? null : outcome.error,
          delivered_at: outcome.state === 'delivered' ? now : null,
        }))
        .where('id', '=', id)
        .execute();
      if (advanceTo) await advance(trx, advanceTo.target, advanceTo.outboxId, now);
    });
  }

  async dueRetries(target: string, now: number, limit: number): Promise<DeliveryRecord[]> {
    const rows = await this.selectDeliveries()
      .innerJoin('report_cursors', 'report_cursors.target', 'deliveries.target')
      .where('deliveries.target', '=', target)
      .where('deliveries.state', '=', 'pending')
      .whereRef('deliveries.outbox_id', '<=', 'report_cursors.last_outbox_id')
      .where('deliveries.next_attempt_at', '<=', now)
      .orderBy('deliveries.id')
      .limit(limit)
      .execute();
    return rows.map(toDelivery);
  }

  async nextRetryAt(target: string): Promise<number | null> {
    const row = await this.db
      .selectFrom('deliveries')
      .innerJoin('report_cursors', 'report_cursors.target', 'deliveries.target')
      .select((eb) => eb.fn.min('deliveries.next_attempt_at').as('at'))
      .where('deliveries.target', '=', target)
      .where('deliveries.state', '=', 'pending')
      .whereRef('deliveries.outbox_id', '<=', 'report_cursors.last_outbox_id')
      .executeTakeFirst();
    return row?.at == null ? null : Number(row.at);
  }

  async listDeliveries(filter: {
    readonly state?: DeliveryState;
    readonly target?: string;
    readonly buildId?: number;
    readonly before?: number;
    readonly limit: number;
  }): Promise<DeliveryRecord[]> {
    let q = this.selectDeliveries();
    if (filter.state !== undefined) q = q.where('deliveries.state', '=', filter.state);
    if (filter.target !== undefined) q = q.where('deliveries.target', '=', filter.target);
    if (filter.buildId !== undefined) q = q.where('outbox.build_id', '=', filter.buildId);
    if (filter.before !== undefined) q = q.where('deliveries.id', '<', filter.before);
    const rows = await q.orderBy('deliveries.id', 'desc').limit(filter.limit).execute();
    return rows.map(toDelivery);
  }

  async getDelivery(id: number): Promise<DeliveryRecord | null> {
    const row = await this.selectDeliveries().where('deliveries.id', '=', id).executeTakeFirst();
    return row ? toDelivery(row) : null;
  }

  async retryDelivery(id: number, now: number): Promise<DeliveryRecord | null> {
    await this.db
      .updateTable('deliveries')
      .set({ state: 'pending', attempts: 0, next_attempt_at: now })
      .where('id', '=', id)
      .where('state', '=', 'dead')
      .execute();
    return this.getDelivery(id);
  }

  private selectDeliveries() {
    return this.db
      .selectFrom('deliveries')
      .innerJoin('outbox', 'outbox.id', 'deliveries.outbox_id')
      .selectAll('deliveries')
      .select(['outbox.build_id', 'outbox.type']);
  }
}

async function advance(
  db: Kysely<Database>,
  target: string,
  outboxId: number,
  now: number,
): Promise<void> {
  await db
    .updateTable('report_cursors')
    .set({ last_outbox_id: outboxId, last_error: null, updated_at: now })
    .where('target', '=', target)
    .where('last_outbox_id', '<', outboxId)
    .execute();
}

function toDelivery(r: DeliveryRow): DeliveryRecord {
  return {
    id: Number(r.id),
    outboxId: Number(r.outbox_id),
    target: r.target,
    state: r.state as DeliveryState,
    attempts: Number(r.attempts),
    nextAttemptAt: r.next_attempt_at === null ? null : Number(r.next_attempt_at),
    lastError: r.last_error,
    createdAt: Number(r.created_at),
    deliveredAt: r.delivered_at === null ? null : Number(r.delivered_at),
    buildId: Number(r.build_id),
    type: r.type as OutboxType,
  };
}
