/**
 * Build logs kept in the database, so any replica can serve a log another one wrote (used on
 * PostgreSQL installations; docs/deploy.md, "Logs and artifacts").
 *
 * Bytes are addressed by their offset in the build's log. Appending is idempotent on the offset
 * and readers tolerate overlapping chunks (bytes at one offset are the same whoever wrote them),
 * so a chunk written twice, or by two replicas with different boundaries, is never duplicated.
 */
export interface SharedLogPort {
  /** Bytes stored for the build's log (the end of its furthest chunk; 0 when none). */
  logSize(buildId: number): Promise<number>;
  /** Stores `bytes` at `offset`; a chunk already stored at that offset is left as it is. */
  appendLog(buildId: number, offset: number, bytes: Buffer): Promise<void>;
  /**
   * The stored bytes from `from`, contiguous, at most about `maxBytes` (a whole chunk more at
   * most); shorter (or empty) where the stored log ends.
   */
  readLog(buildId: number, from: number, maxBytes: number): Promise<Buffer>;
  /** Deletes the logs of these builds; resolves with the bytes freed. Safe for absent ones. */
  deleteLogs(buildIds: readonly number[]): Promise<number>;
}

/** A complete blob in the database. */
export interface SharedBlobInfo {
  readonly digest: string;
  readonly size: number;
  readonly chunks: number;
}

/**
 * Content-addressed blobs kept in the database, in numbered chunks (no blob is one huge value),
 * deduplicated by digest. A blob exists once `sealBlob` ran after all its chunks were written;
 * until then readers do not see it, so a writer that dies midway leaves nothing half-served.
 */
export interface SharedBlobPort {
  blobInfo(digest: string): Promise<SharedBlobInfo | null>;
  /** Idempotent: a chunk already stored under (digest, seq) is left as it is. */
  putBlobChunk(digest: string, seq: number, bytes: Buffer): Promise<void>;
  /**
   * Marks the blob complete, or refreshes its time when it is (a put that deduplicated it), if
   * all its chunks are stored: false (and nothing changed) when one is missing — a garbage
   * collection deleted them meanwhile, and the caller stores them again. A blob's row and its
   * chunks are never apart: `deleteBlob` removes both at once.
   */
  sealBlob(info: SharedBlobInfo, now: number): Promise<boolean>;
  /** One chunk's bytes, or null when absent. */
  readBlobChunk(digest: string, seq: number): Promise<Buffer | null>;
  /** Complete blobs stored before `before` (epoch ms), oldest first, at most `limit`, after `afterDigest`. */
  listBlobs(before: number, afterDigest: string, limit: number): Promise<SharedBlobInfo[]>;
  /**
   * Deletes the blob (its row and its chunks, in one transaction) unless stored (again) since
   * `storedBefore`; resolves with its size, 0 when absent or kept.
   */
  deleteBlob(digest: string, storedBefore: number): Promise<number>;
}
