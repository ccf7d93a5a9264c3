import { sql } from 'kysely';
import type { SharedLogPort } from '../ports.js';
import type { SqlConnection } from './connection.js';

/** Chunks read per query of {@link SqlSharedLogs.readLog}: bounds the rows one read holds. */
const MAX_CHUNKS_PER_READ = 64;

/** {@link SharedLogPort} over the `log_chunks` table. */
export class SqlSharedLogs implements SharedLogPort {
  constructor(private readonly conn: SqlConnection) {}

  async logSize(buildId: number): Promise<number> {
    const row = await this.conn.db
      .selectFrom('log_chunks')
      .select(sql<number | null>`max(byte_offset + length)`.as('size'))
      .where('build_id', '=', buildId)
      .executeTakeFirst();
    return Number(row?.size ?? 0);
  }

  async appendLog(buildId: number, offset: number, bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    await this.conn.db
      .insertInto('log_chunks')
      .values({ build_id: buildId, byte_offset: offset, length: bytes.length, bytes })
      .onConflict((oc) => oc.columns(['build_id', 'byte_offset']).doNothing())
      .execute();
  }

  async readLog(buildId: number, from: number, maxBytes: number): Promise<Buffer> {
    // The first chunk that holds byte `from` (two writers' chunks may overlap), then the rest.
    const first = await this.conn.db
      .selectFrom('log_chunks')
      .select('byte_offset')
      .where('build_id', '=', buildId)
      .where('byte_offset', '<=', from)
      .where(sql<boolean>`byte_offset + length > ${from}`)
      .orderBy('byte_offset')
      .limit(1)
      .executeTakeFirst();
    const rows = await this.conn.db
      .selectFrom('log_chunks')
      .select(['byte_offset', 'bytes'])
      .where('build_id', '=', buildId)
      .where('byte_offset', '>=', Number(first?.byte_offset ?? from))
      .where('byte_offset', '<', from + Math.max(1, maxBytes))
      .orderBy('byte_offset')
      .limit(MAX_CHUNKS_PER_READ)
      .execute();
    const parts: Buffer[] = [];
    let at = from;
    for (const r of rows) {
      const start = Number(r.byte_offset);
      const bytes = Buffer.from(r.bytes);
      if (start > at) break; // a hole: the bytes past it are not readable yet
      const end = start + bytes.length;
      if (end <= at) continue; // overlaps what was taken already
      parts.push(bytes.subarray(at - start));
      at = end;
    }
    return Buffer.concat(parts);
  }

  async deleteLogs(buildIds: readonly number[]): Promise<number> {
    let freed = 0;
    // Bounded batches: a retention run may delete thousands of builds at once.
    for (let i = 0; i < buildIds.length; i += 500) {
      const ids = buildIds.slice(i, i + 500);
      const rows = await this.conn.db
        .deleteFrom('log_chunks')
        .where('build_id', 'in', ids)
        .returning('length')
        .execute();
      for (const r of rows) freed += Number(r.length);
    }
    return freed;
  }
}
