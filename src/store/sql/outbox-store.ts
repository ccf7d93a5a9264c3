import type { Build } from '../../core/build.js';
import { isSloOutboxType, type SloAlert } from '../../core/slo/slo-alert.js';
import type { OutboxEntry, OutboxPort, OutboxRecord } from '../ports.js';
import type { Db, SqlConnection } from './connection.js';
import { insertOutboxRows } from './outbox-writes.js';

/** No build: SLO rows name build 0 (ids start at 1), so retention sees no build to wait for. */
const NO_BUILD = 0;
const SLO_TYPES = ['slo.burning', 'slo.recovered'] as const;

/**
 * {@link OutboxPort}: the relay's read of lifecycle changes. Ids become visible in increasing
 * order on every backend (see `outbox-writes.ts`), so `id > cursor` never skips a row.
 */
export class SqlOutbox implements OutboxPort {
  constructor(private readonly conn: SqlConnection) {}

  async outboxSince(afterId: number, limit: number): Promise<OutboxRecord[]> {
    const { rows } = await this.conn.run(outboxSince, { afterId, limit });
    return rows.map((r) => ({
      id: Number(r.id),
      buildId: Number(r.build_id),
      type: r.type as OutboxRecord['type'],
      build: JSON.parse(r.payload) as Build,
      createdAt: Number(r.created_at),
    }));
  }

  async outboxEntriesSince(afterId: number, limit: number): Promise<OutboxEntry[]> {
    const { rows } = await this.conn.run(entriesSince, { afterId, limit });
    return rows.map((r): OutboxEntry => {
      const base = { id: Number(r.id), createdAt: Number(r.created_at) };
      if (isSloOutboxType(r.type))
        return { ...base, type: r.type, alert: JSON.parse(r.payload) as SloAlert };
      return {
        ...base,
        buildId: Number(r.build_id),
        type: r.type as OutboxRecord['type'],
        build: JSON.parse(r.payload) as Build,
      };
    });
  }

  async appendSloAlert(alert: SloAlert, now: number): Promise<number> {
    // JSON has no infinities; `null` stands for them, as in `GET /api/slos`.
    const payload = JSON.stringify(alert, (_k, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? null : v,
    );
    const row = { build_id: NO_BUILD, type: `slo.${alert.kind}`, payload, created_at: now };
    // Its own transaction: the insert is its last statement, under the outbox lock.
    const [id] = await this.conn.db
      .transaction()
      .execute((trx) => insertOutboxRows(trx, this.conn.dialect, [row]));
    return id ?? 0;
  }
}

/** Hot: every relay wake reads it (see `Shapes`). */
const outboxSince = (db: Db, p: { afterId: number; limit: number }) =>
  db
    .selectFrom('outbox')
    .selectAll()
    .where('id', '>', p.afterId)
    .where('type', 'not in', SLO_TYPES)
    .orderBy('id')
    .limit(p.limit);

/** Hot: every report target's pass reads it. */
const entriesSince = (db: Db, p: { afterId: number; limit: number }) =>
  db.selectFrom('outbox').selectAll().where('id', '>', p.afterId).orderBy('id').limit(p.limit);
