import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, type ReadStream } from 'node:fs';
import {
  chmod,
  copyFile,
  constants,
  link,
  mkdir,
  readdir,
  rename,
  rm,
  stat,
  unlink,
  utimes,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fetchSharedBlob, shareBlob, type SharedBlobs } from './shared-blobs.js';

const DIGEST_RE = /^[0-9a-f]{64}$/;
/** A blob younger than this is never collected: a `put` that deduplicated it may not be referenced in the database yet. */
const DEFAULT_GC_MIN_AGE_MS = 60 * 60 * 1000;

export interface StoredBlob {
  readonly digest: string;
  readonly size: number;
}

export interface ContentStoreOptions {
  /**
   * A copy every replica of a PostgreSQL installation shares (the database): every blob put here
   * is also put there, and a blob missing here is fetched from there (digest checked) before it
   * is served. Default none: the data directory is the only copy.
   */
  readonly shared?: SharedBlobs;
  readonly now?: () => number;
}

export interface GcOptions {
  /** Skip blobs modified (stored or re-put) more recently than this; default 1 h. */
  readonly minAgeMs?: number;
  readonly now?: number;
}

/** True when `s` is a lowercase sha256 hex digest. */
function isDigest(s: string): boolean {
  return DIGEST_RE.test(s);
}

/** sha256 of a file, streamed (constant memory). */
async function hashFile(path: string): Promise<StoredBlob> {
  const hash = createHash('sha256');
  let size = 0;
  await pipeline(createReadStream(path), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      hash.update(chunk);
      size += chunk.length;
    }
  });
  return { digest: hash.digest('hex'), size };
}

/**
 * Content-addressed blob store: `<root>/sha256/<first two hex>/<digest>`, each blob written once,
 * atomically (temp file in the same directory, then rename) and made read-only.
 *
 * Concurrency: several `put`s of the same content are safe (the rename is atomic and the content
 * identical). Which builds reference which blobs lives in the database; this class only answers
 * "which blobs exist" and deletes what `collectGarbage`'s caller says is unreferenced.
 */
export class ContentStore {
  readonly root: string;
  private readonly shared: SharedBlobs | null;
  private readonly now: () => number;
  /** Fetches from the shared copy in flight, by digest: concurrent readers wait for one. */
  private readonly fetching = new Map<string, Promise<boolean>>();
  /** Reads and links in progress, by digest: a prune of local copies leaves these blobs alone. */
  private readonly using = new Map<string, number>();

  /** `dataDir` is nightless' data directory; blobs live under `<dataDir>/artifacts`. */
  constructor(dataDir: string, options: ContentStoreOptions = {}) {
    this.root = join(dataDir, 'artifacts');
    this.shared = options.shared ?? null;
    this.now = options.now ?? Date.now;
  }

  /**
   * Whether this process is reading, linking or fetching the blob now. A pruner checks it right
   * before unlinking; a reader that starts after that and finds the file gone fetches it again.
   */
  inUse(digest: string): boolean {
    return this.using.has(digest) || this.fetching.has(digest);
  }

  private hold(digest: string): () => void {
    this.using.set(digest, (this.using.get(digest) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.using.get(digest) ?? 1) - 1;
      if (n > 0) this.using.set(digest, n);
      else this.using.delete(digest);
    };
  }

  /** Where a blob lives (whether or not it exists). Throws on anything but a 64-hex digest. */
  pathOf(digest: string): string {
    if (!isDigest(digest)) throw new Error(`invalid sha256 digest: ${JSON.stringify(digest)}`);
    return join(this.root, 'sha256', digest.slice(0, 2), digest);
  }

  /** Whether the blob is here, or in the shared copy (from where {@link fetch} brings it). */
  async has(digest: string): Promise<boolean> {
    if (await this.hasLocal(digest)) return true;
    return this.shared !== null && (await this.shared.blobInfo(digest)) !== null;
  }

  private async hasLocal(digest: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(digest))).isFile();
    } catch (err) {
      if (isCode(err, 'ENOENT')) return false;
      throw err;
    }
  }

  /**
   * Makes the blob present here: true at once when it is, else fetched from the shared copy
   * (size and sha256 checked before it becomes visible); false when neither has it.
   */
  fetch(digest: string): Promise<boolean> {
    const running = this.fetching.get(digest);
    if (running) return running;
    const done = this.fetchNow(digest).finally(() => this.fetching.delete(digest));
    this.fetching.set(digest, done);
    return done;
  }

  private async fetchNow(digest: string): Promise<boolean> {
    const dest = this.pathOf(digest);
    if (await this.hasLocal(digest)) return true;
    if (this.shared === null) return false;
    await mkdir(dirname(dest), { recursive: true });
    const tmp = await fetchSharedBlob(this.shared, digest, dirname(dest));
    if (tmp === null) return false;
    try {
      await chmod(tmp, 0o444);
      await rename(tmp, dest);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    return true;
  }

  /**
   * Stores a file's content and returns its digest. Idempotent: content already present is not
   * written again (its mtime is refreshed so a concurrent GC's grace period protects it).
   */
  async put(filePath: string): Promise<StoredBlob> {
    // First pass only reads: identical outputs across builds are the common case and cost no write.
    const stored = await this.putLocal(filePath);
    if (this.shared !== null)
      await shareBlob(this.shared, this.pathOf(stored.digest), stored.digest, this.now());
    return stored;
  }

  private async putLocal(filePath: string): Promise<StoredBlob> {
    const first = await hashFile(filePath);
    const dest = this.pathOf(first.digest);
    if (await this.touchIfExists(dest)) return first;
    await mkdir(dirname(dest), { recursive: true });
    const tmp = join(dirname(dest), `.tmp-${randomBytes(8).toString('hex')}`);
    try {
      // copyFile may reflink (FICLONE) where the filesystem supports it; hashing the copy proves
      // the stored bytes are the ones named, even if the source changed between the two passes.
      await copyFile(filePath, tmp, constants.COPYFILE_FICLONE);
      const stored = await hashFile(tmp);
      await chmod(tmp, 0o444);
      const target = this.pathOf(stored.digest);
      if (stored.digest !== first.digest) await mkdir(dirname(target), { recursive: true });
      await rename(tmp, target);
      return stored;
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  }

  /** A read stream of the blob (fetched from the shared copy first if need be); errors with ENOENT when absent. */
  openRead(digest: string): ReadStream | PassThrough {
    const path = this.pathOf(digest); // first: an invalid digest throws before it is held
    const release = this.hold(digest);
    if (this.shared === null) return createReadStream(path).once('close', release);
    const out = new PassThrough();
    out.once('close', release);
    const start = (retry: boolean): void => {
      this.fetch(digest).then(
        (present) => {
          if (!present) {
            out.destroy(Object.assign(new Error(`no blob ${digest}`), { code: 'ENOENT' }));
            return;
          }
          const file = createReadStream(path);
          file.once('open', () => file.pipe(out));
          file.on('error', (err) => {
            // Pruned between the fetch and the open (see `inUse`): fetched again, once.
            if (retry && isCode(err, 'ENOENT')) start(false);
            else out.destroy(err);
          });
        },
        (err: unknown) => out.destroy(err instanceof Error ? err : new Error(String(err))),
      );
    };
    start(true);
    return out;
  }

  /**
   * Makes the blob appear at `dest` (replacing any file there): a hard link when possible (no
   * copy, shared read-only inode), else a copy (another filesystem, link limit reached).
   */
  async materialize(digest: string, dest: string): Promise<void> {
    this.pathOf(digest); // throws on an invalid digest before it is held
    const release = this.hold(digest);
    try {
      await this.materializeOnce(digest, dest);
    } catch (err) {
      // Pruned between the fetch and the link (see `inUse`): fetched again, once.
      if (this.shared === null || !isCode(err, 'ENOENT')) throw err;
      await this.materializeOnce(digest, dest);
    } finally {
      release();
    }
  }

  private async materializeOnce(digest: string, dest: string): Promise<void> {
    const src = this.pathOf(digest);
    if (this.shared !== null && !(await this.fetch(digest)))
      throw Object.assign(new Error(`no blob ${digest}`), { code: 'ENOENT' });
    await mkdir(dirname(dest), { recursive: true });
    await rm(dest, { force: true });
    try {
      await link(src, dest);
    } catch (err) {
      if (!isCode(err, 'EXDEV') && !isCode(err, 'EMLINK') && !isCode(err, 'EPERM')) throw err;
      await copyFile(src, dest);
    }
  }

  /** Deletes a blob; safe to call for an absent one. */
  async remove(digest: string): Promise<void> {
    await rm(this.pathOf(digest), { force: true });
  }

  /** Every stored digest, shard by shard (order unspecified). */
  async *list(): AsyncGenerator<string> {
    const base = join(this.root, 'sha256');
    for (const shard of await readdirOrEmpty(base)) {
      if (!/^[0-9a-f]{2}$/.test(shard)) continue;
      for (const name of await readdirOrEmpty(join(base, shard))) {
        if (isDigest(name) && name.startsWith(shard)) yield name;
      }
    }
  }

  async totalBytes(): Promise<number> {
    let total = 0;
    for await (const digest of this.list()) total += await sizeOrZero(this.pathOf(digest));
    return total;
  }

  /**
   * Removes every blob `isReferenced` rejects (and abandoned temp files), skipping blobs younger
   * than `minAgeMs`. Returns the bytes freed. Safe to run while builds store outputs.
   */
  async collectGarbage(
    isReferenced: (digest: string) => boolean | Promise<boolean>,
    options: GcOptions = {},
  ): Promise<number> {
    const minAge = options.minAgeMs ?? DEFAULT_GC_MIN_AGE_MS;
    const cutoff = (options.now ?? Date.now()) - minAge;
    let freed = 0;
    for await (const digest of this.list()) {
      const path = this.pathOf(digest);
      const st = await stat(path).catch(() => null);
      if (st === null || st.mtimeMs > cutoff) continue;
      if (await isReferenced(digest)) continue;
      if (this.inUse(digest)) continue;
      await unlink(path).catch(() => undefined);
      freed += st.size;
    }
    freed += await this.removeStaleTemps(cutoff);
    if (this.shared !== null) freed += await this.collectShared(isReferenced, cutoff);
    return freed;
  }

  /** The shared copy's part of {@link collectGarbage}: same rule, same grace period. */
  private async collectShared(
    isReferenced: (digest: string) => boolean | Promise<boolean>,
    cutoff: number,
  ): Promise<number> {
    const shared = this.shared;
    if (shared === null) return 0;
    let freed = 0;
    let after = '';
    for (let page = 0; page < 1_000_000; page++) {
      const blobs = await shared.listBlobs(cutoff, after, 200);
      for (const b of blobs)
        if (!(await isReferenced(b.digest))) freed += await shared.deleteBlob(b.digest, cutoff);
      const last = blobs.at(-1);
      if (last === undefined) break;
      after = last.digest;
    }
    return freed;
  }

  private async removeStaleTemps(cutoff: number): Promise<number> {
    const base = join(this.root, 'sha256');
    let freed = 0;
    for (const shard of await readdirOrEmpty(base)) {
      for (const name of await readdirOrEmpty(join(base, shard))) {
        if (!name.startsWith('.tmp-')) continue;
        const path = join(base, shard, name);
        const st = await stat(path).catch(() => null);
        if (st === null || st.mtimeMs > cutoff) continue;
        await rm(path, { force: true });
        freed += st.size;
      }
    }
    return freed;
  }

  private async touchIfExists(path: string): Promise<boolean> {
    try {
      const now = new Date();
      await utimes(path, now, now);
      return true;
    } catch (err) {
      if (isCode(err, 'ENOENT')) return false;
      throw err;
    }
  }
}

function isCode(err: unknown, code: string): boolean {
  return err instanceof Error && (err as NodeJS.ErrnoException).code === code;
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if (isCode(err, 'ENOENT')) return [];
    throw err;
  }
}

async function sizeOrZero(path: string): Promise<number> {
  const st = await stat(path).catch(() => null);
  return st?.size ?? 0;
}
