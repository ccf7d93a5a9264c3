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

  async sealBlob(info: SharedBlobInfo, now: number): Promise<boolean> {
    // The row first, then the chunk count, in one transaction: from the upsert on, the row is
    // locked (or not yet visible), so a garbage collection that would delete it waits for the
    // commit and then keeps it (`stored_at` is fresh). A collection that deleted the row before
    // (the upsert waits for it to commit) deleted the chunks too, which the count then sees: the
    // seal rolls back, and no row ever names chunks that are gone (docs/deploy.md).
    try {
      return await this.conn.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('blobs')
          .values({ digest: info.digest, size: info.size, chunks: info.chunks, stored_at: now })
          .onConflict((oc) => oc.column('digest').doUpdateSet({ stored_at: now }))
          .execute();
        const row = await trx
          .selectFrom('blob_chunks')
          .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
          .where('digest', '=', info.digest)
          .where('seq', '<', info.chunks)
          .executeTakeFirst();
        if (Number(row?.n ?? 0) !== info.chunks) throw new IncompleteBlob();
        return true;
      });
    } catch (err) {
      if (err instanceof IncompleteBlob) return false;
      throw err;
    }
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
    // Row and chunks in one transaction, the row first: the delete locks the row, so a seal of
    // the same blob either commits first (fresh `stored_at`: kept here) or waits for this commit
    // and then finds the chunks gone (see `sealBlob`). A blob stored again since the caller
    // listed it (a put that deduplicated it) is kept.
    return this.conn.db.transaction().execute(async (trx) => {
      const gone = await trx
        .deleteFrom('blobs')
        .where('digest', '=', digest)
        .where('stored_at', '<', storedBefore)
        .returning('size')
        .executeTakeFirst();
      if (gone === undefined) return 0;
      await trx.deleteFrom('blob_chunks').where('digest', '=', digest).execute();
      return Number(gone.size);
    });
  }
}

/** Thrown inside `sealBlob`'s transaction to roll it back: some chunk of the blob is missing. */
class IncompleteBlob extends Error {}
