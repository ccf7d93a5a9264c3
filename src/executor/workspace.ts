import { chmod, lstat, mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export interface WorkspacesOptions {
  /** How long a failed build's workspace stays for inspection. */
  readonly keepFailedMs: number;
  /** Cap on the total size of kept workspaces; the oldest are evicted first. */
  readonly maxBytes?: number | undefined;
}

export interface PruneResult {
  readonly removed: readonly number[];
  readonly freedBytes: number;
}

/**
 * Build workspaces `<root>/<buildId>`: created fresh for each run, removed after success, kept
 * after failure for `keepFailedMs` (the directory's mtime records when it was kept).
 * Workspaces of builds running in this process are never pruned.
 */
export class Workspaces {
  private readonly active = new Set<number>();

  constructor(
    readonly root: string,
    private readonly options: WorkspacesOptions,
  ) {}

  pathOf(buildId: number): string {
    return join(this.root, String(buildId));
  }

  /** A fresh, empty directory; anything left from an earlier attempt of the same build is removed. */
  async create(buildId: number): Promise<string> {
    this.active.add(buildId);
    const dir = this.pathOf(buildId);
    await removeTree(dir);
    await mkdir(dir, { recursive: true });
    return dir;
  }

  /** Ends a run: removes the workspace, or keeps it (stamping the time) for later inspection. */
  async release(buildId: number, keep: boolean): Promise<void> {
    const dir = this.pathOf(buildId);
    try {
      if (keep) {
        const now = new Date();
        await utimes(dir, now, now);
      } else {
        await removeTree(dir);
      }
    } finally {
      this.active.delete(buildId);
    }
  }

  /**
   * Removes kept workspaces older than `keepFailedMs`, then the oldest ones while the rest exceed
   * `maxBytes`. Safe to call at any time, also concurrently with running builds.
   */
  async prune(now = Date.now()): Promise<PruneResult> {
    const kept: { id: number; mtimeMs: number; bytes: number }[] = [];
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      const id = Number(name);
      if (!/^\d+$/.test(name) || this.active.has(id)) continue;
      const st = await stat(join(this.root, name)).catch(() => null);
      if (st?.isDirectory() !== true) continue;
      kept.push({ id, mtimeMs: st.mtimeMs, bytes: 0 });
    }
    kept.sort((a, b) => a.mtimeMs - b.mtimeMs);
    const removed: number[] = [];
    let freedBytes = 0;
    const evict = async (w: (typeof kept)[number]): Promise<void> => {
      if (this.active.has(w.id)) return;
      await removeTree(this.pathOf(w.id));
      removed.push(w.id);
      freedBytes += w.bytes;
    };
    const survivors: typeof kept = [];
    for (const w of kept) {
      if (now - w.mtimeMs > this.options.keepFailedMs) {
        w.bytes = await treeBytes(this.pathOf(w.id));
        await evict(w);
      } else survivors.push(w);
    }
    const cap = this.options.maxBytes;
    if (cap !== undefined) {
      let total = 0;
      for (const w of survivors) {
        w.bytes = await treeBytes(this.pathOf(w.id));
        total += w.bytes;
      }
      for (const w of survivors) {
        if (total <= cap) break;
        await evict(w);
        total -= w.bytes;
      }
    }
    return { removed, freedBytes };
  }
}

/**
 * `rm -rf` that also copes with read-only directories (Go's module cache makes them 0555).
 * Only directories are made writable: files may be hard links into the artifact store, whose
 * read-only mode must stay.
 */
async function removeTree(dir: string): Promise<void> {
  try {
    await rm(dir, { recursive: true, force: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    await makeDirsWritable(dir);
    await rm(dir, { recursive: true, force: true });
  }
}

async function makeDirsWritable(dir: string): Promise<void> {
  await chmod(dir, 0o700).catch(() => undefined);
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (e.isDirectory()) await makeDirsWritable(join(dir, e.name));
  }
}

/** Apparent size of a tree (symlinks not followed). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await treeBytes(p);
    else total += (await lstat(p).catch(() => null))?.size ?? 0;
  }
  return total;
}
