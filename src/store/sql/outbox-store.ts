import type { Build } from '../../core/build.js';
import type { OutboxPort, OutboxRecord } from '../ports.js';
import type { Db, SqlConnection } from './connection.js';

/** {@link OutboxPort}: the relay's read of lifecycle changes, in commit order of their ids. */
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
}

/** Hot: every relay wake and every report target reads it (see `Shapes`). */
const outboxSince = (db: Db, p: { afterId: number; limit: number }) =>
  db.selectFrom('outbox').selectAll().where('id', '>', p.afterId).orderBy('id').limit(p.limit);
