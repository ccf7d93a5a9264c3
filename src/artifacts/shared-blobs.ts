import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** A complete blob in the shared copy. */
export interface SharedBlobInfo {
  readonly digest: string;
  readonly size: number;
  readonly chunks: number;
}

/**
 * The database's copy of the content store, as the store needs it (`SharedBlobPort`), declared
 * here: ports belong to their caller.
 */
export interface SharedBlobs {
  blobInfo(digest: string): Promise<SharedBlobInfo | null>;
  putBlobChunk(digest: string, seq: number, bytes: Buffer): Promise<void>;
  sealBlob(info: SharedBlobInfo, now: number): Promise<boolean>;
  readBlobChunk(digest: string, seq: number): Promise<Buffer | null>;
  listBlobs(before: number, afterDigest: string, limit: number): Promise<SharedBlobInfo[]>;
  deleteBlob(digest: string, storedBefore: number): Promise<number>;
}

/** Bytes per chunk row: a big blob is many rows, never one huge value in memory. */
export const BLOB_CHUNK_BYTES = 1024 * 1024;
/** A blob has at most this many chunks (4 TiB): the bound of every loop over them. */
const MAX_CHUNKS = 4 * 1024 * 1024;

/** Attempts of {@link shareBlob} and {@link fetchSharedBlob} when a garbage collection races them. */
const ATTEMPTS = 3;

/**
 * Copies a stored blob into the shared copy unless it is there: chunk rows first, then the row
 * that makes it visible. Safe to run on several replicas at once (every write is idempotent), and
 * while a garbage collection deletes the same blob: the seal fails when the chunks went meanwhile
 * (see `SharedBlobPort.sealBlob`), and they are stored again.
 */
export async function shareBlob(
  shared: SharedBlobs,
  path: string,
  digest: string,
  now: number,
): Promise<void> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const known = await shared.blobInfo(digest);
    // Refreshed: a garbage collection that listed it before this put must keep it.
    if (known !== null && (await shared.sealBlob(known, now))) return;
    if (await shared.sealBlob(await putChunks(shared, path, digest), now)) return;
  }
  throw new Error(
    `blob ${digest}: a garbage collection deleted its chunks while it was stored, ${ATTEMPTS} times`,
  );
}

async function putChunks(shared: SharedBlobs, path: string, digest: string) {
  let seq = 0;
  let size = 0;
  const stream = createReadStream(path, { highWaterMark: BLOB_CHUNK_BYTES });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    await shared.putBlobChunk(digest, seq, chunk);
    seq += 1;
    size += chunk.length;
  }
  return { digest, size, chunks: seq };
}

/**
 * Writes the shared copy of `digest` to a new temp file in `dir`, checking size and sha256, and
 * returns its path (the caller renames it into place); `null` when the shared copy lacks the blob.
 * Rejects when the bytes do not match their digest (nothing is left behind).
 */
export async function fetchSharedBlob(
  shared: SharedBlobs,
  digest: string,
  dir: string,
): Promise<string | null> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const info = await shared.blobInfo(digest);
    if (info === null) return null;
    const tmp = await copyChunks(shared, info, dir);
    if (tmp !== null) return tmp;
    // A chunk went between two reads: the blob was deleted (absent now), or deleted and stored
    // again (read it anew).
  }
  throw new Error(`blob ${digest}: its chunks went while it was read, ${ATTEMPTS} times`);
}

/** `info`'s chunks into a new temp file; null when one is missing (nothing is left behind). */
async function copyChunks(
  shared: SharedBlobs,
  info: SharedBlobInfo,
  dir: string,
): Promise<string | null> {
  const { digest } = info;
  const tmp = join(dir, `.tmp-${randomBytes(8).toString('hex')}`);
  const fh = await open(tmp, 'wx', 0o644);
  try {
    const hash = createHash('sha256');
    let size = 0;
    for (let seq = 0; seq < Math.min(info.chunks, MAX_CHUNKS); seq++) {
      const bytes = await shared.readBlobChunk(digest, seq);
      if (bytes === null) {
        await fh.close();
        await rm(tmp, { force: true });
        return null;
      }
      hash.update(bytes);
      size += bytes.length;
      await fh.write(bytes);
    }
    const actual = hash.digest('hex');
    if (actual !== digest || size !== info.size)
      throw new Error(
        `blob ${digest} in the database is damaged: ${size} bytes with sha256 ${actual}`,
      );
    await fh.close();
    return tmp;
  } catch (err) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw err;
  }
}
