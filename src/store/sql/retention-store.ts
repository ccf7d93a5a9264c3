import type { RetentionFacts } from '../../core/retention.js';
import type {
  DeletedBuilds,
  HistoryBatch,
  HistoryKind,
  HistoryRow,
  RetentionPort,
} from '../ports.js';
import type { SqlConnection } from './connection.js';
import { deleteBuilds, pruneHistoryBatch, retentionFacts } from './history-retention.js';

/** {@link RetentionPort}; the queries and the rules they re-check are in history-retention.ts. */
export class SqlRetention implements RetentionPort {
  constructor(private readonly conn: SqlConnection) {}

  retentionFacts(): Promise<RetentionFacts> {
    return retentionFacts(this.conn.db);
  }

  deleteBuilds(ids: readonly number[]): Promise<DeletedBuilds> {
    return deleteBuilds(this.conn.db, ids);
  }

  async existingBuilds(ids: readonly number[]): Promise<Set<number>> {
    if (ids.length === 0) return new Set();
    if (ids.length > 500)
      throw new RangeError(`existingBuilds takes at most 500 ids, got ${ids.length}`);
    const rows = await this.conn.db
      .selectFrom('builds')
      .select('id')
      .where('id', 'in', [...ids])
      .execute();
    return new Set(rows.map((r) => Number(r.id)));
  }

  pruneHistory(
    kind: HistoryKind,
    afterId: number,
    limit: number,
    deletable: (row: HistoryRow) => boolean,
    deliveredUpTo: number,
  ): Promise<HistoryBatch> {
    return pruneHistoryBatch(this.conn.db, kind, afterId, limit, deletable, deliveredUpTo);
  }
}
