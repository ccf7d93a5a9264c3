import type { SharedBlobInfo, SharedBlobPort } from '../ports.js';
import type { SqlConnection } from './connection.js';

/** {@link SharedBlobPort} over the `blobs` and `blob_chunks` tables. */
export class SqlSharedBlobs implements SharedBlobPort {
  constructor(private readonly conn: SqlConnection) {}

  async blobInfo(digest: string): Promise<SharedBlobInfo | null> {
    const row = await this.conn.db
      .selectFrom('blobs')
      .select(['digest', 'size', 'chunks'])
      .where('digest', '=', digest)
      .executeTakeFirst();
    return row ? { digest: row.digest, size: Number(row.size), chunks: Number(row.chunks) } : null;
  }

  async putBlobChunk(digest: string, seq: number, bytes: Buffer): Promise<void> {
    await this.conn.db
      .insertInto('blob_chunks')
      .values({ digest, seq, bytes })
      .onConflict((oc) => oc.columns(['digest', 'seq']).doNothing())
      .execute();
  }

  async sealBlob(info: SharedBlobInfo, now: number): Promise<void> {
    await this.conn.db
      .insertInto('blobs')
      .values({ digest: info.digest, size: info.size, chunks: info.chunks, stored_at: now })
      .onConflict((oc) => oc.column('digest').doUpdateSet({ stored_at: now }))
      .execute();
  }

  async readBlobChunk(digest: string, seq: number): Promise<Buffer | null> {
    const row = await this.conn.db
      .selectFrom('blob_chunks')
      .select('bytes')
      .where('digest', '=', digest)
      .where('seq', '=', seq)
      .executeTakeFirst();
    return row ? Buffer.from(row.bytes) : null;
  }

  async listBlobs(before: number, afterDigest: string, limit: number): Promise<SharedBlobInfo[]> {
    const rows = await this.conn.db
      .selectFrom('blobs')
      .select(['digest', 'size', 'chunks'])
      .where('stored_at', '<', before)
      .where('digest', '>', afterDigest)
      .orderBy('digest')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ digest: r.digest, size: Number(r.size), chunks: Number(r.chunks) }));
  }

  async deleteBlob(digest: string, storedBefore: number): Promise<number> {
    // The row first: from then on no reader starts on the blob; then its chunks. A blob stored
    // again since the caller listed it (a put that deduplicated it) is kept.
    const gone = await this.conn.db
      .deleteFrom('blobs')
      .where('digest', '=', digest)
      .where('stored_at', '<', storedBefore)
      .returning('size')
      .executeTakeFirst();
    if (gone === undefined) return 0;
    await this.conn.db.deleteFrom('blob_chunks').where('digest', '=', digest).execute();
    return Number(gone?.size ?? 0);
  }
}
