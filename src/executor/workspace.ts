import { chmod, lstat, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export interface WorkspacesOptions {
  /** How long a failed build's workspace stays for inspection. */
  readonly keepFailedMs: number;
  /** Cap on the total size of kept workspaces; the oldest are evicted first. */
  readonly maxBytes?: number | undefined;
}

/** How long after a passing build its parked tree is cleaned (see `release`). */
const SCRUB_DELAY_MS = 250;

export interface WorkspaceDir {
  readonly dir: string;
  /** An earlier passing build's tree of the same job (see `Workspaces`). */
  readonly reused: boolean;
  /** That tree was cleaned (`clean -ffdx`) when it was parked: only a checkout is left to do. */
  readonly scrubbed: boolean;
}

export interface PruneResult {
  readonly removed: readonly number[];
  readonly freedBytes: number;
}

/**
 * Build workspaces `<root>/<buildId>`: removed after success, kept after failure for
 * `keepFailedMs` (the directory's mtime records when it was kept). Workspaces of builds running
 * in this process are never pruned.
 *
 * Warm workspaces: a passing build's tree is parked at `<root>/warm/<job>` instead of being
 * removed (and cleaned there, off the next build's path), and the job's next build starts in it (moved to `<root>/<buildId>` by a rename), so
 * its checkout only moves the tree to the new commit. Only a passing build's tree is parked: a
 * failed, cancelled or errored one is kept for inspection or removed, never reused. Two builds
 * of one job at once: the second starts fresh (the rename hands the tree to one of them).
 */
export class Workspaces {
  private readonly active = new Set<number>();
  /** Job → its parked tree's clean, `true` once done (`false`: not done, or the tree removed). */
  private readonly parking = new Map<string, { done: Promise<boolean>; cancel: () => void }>();
  private stopping = false;

  constructor(
    readonly root: string,
    private readonly options: WorkspacesOptions,
  ) {}

  pathOf(buildId: number): string {
    return join(this.root, String(buildId));
  }

  /** Where `job`'s warm tree waits between builds. */
  warmPathOf(job: string): string {
    return join(this.root, 'warm', encodeURIComponent(job));
  }

  /**
   * The build's directory: `job`'s warm tree when there is one (`reused`), else a fresh, empty
   * one; anything left from an earlier attempt of the same build is removed first.
   */
  async create(buildId: number, warmJob: string | null = null): Promise<WorkspaceDir> {
    this.active.add(buildId);
    const dir = this.pathOf(buildId);
    await removeTree(dir);
    if (warmJob !== null) {
      const parking = this.parking.get(warmJob);
      this.parking.delete(warmJob);
      // Scrubbed at parking (resolved true); unknown after a restart (none): clean it now.
      parking?.cancel();
      const scrubbed = parking === undefined ? false : await parking.done;
      const moved = await rename(this.warmPathOf(warmJob), dir).then(
        () => true,
        () => false,
      );
      if (moved) return { dir, reused: true, scrubbed };
    }
    await mkdir(dir, { recursive: true });
    return { dir, reused: false, scrubbed: false };
  }

  /**
   * Ends a run: keeps the workspace (stamping the time) for later inspection, parks it as
   * `warmJob`'s warm tree (then `scrub` cleans it in the background, `SCRUB_DELAY_MS` later; a
   * tree it fails on is removed), or removes it.
   */
  async release(
    buildId: number,
    keep: boolean,
    warmJob: string | null = null,
    scrub: (dir: string) => Promise<boolean> = () => Promise.resolve(false),
  ): Promise<void> {
    const dir = this.pathOf(buildId);
    try {
      if (keep) {
        const now = new Date();
        await utimes(dir, now, now);
      } else if (warmJob === null || !(await this.park(dir, warmJob))) {
        await removeTree(dir);
      } else {
        const warm = this.warmPathOf(warmJob);
        // Deferred: this build's end is when a downstream build starts, and the clean's git
        // process would compete with it. A build of this job arriving first cancels the
        // deferred clean and cleans the tree itself, as part of its checkout.
        let cancel: () => void = () => undefined;
        const done = new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => {
            cancel = () => undefined;
            void scrub(warm)
              .catch(() => false)
              .then(async (ok) => {
                // A clean killed by the server stopping leaves the tree for the next process,
                // which cleans a parked tree it knows nothing about before using it.
                if (!ok && !this.stopping) await removeTree(warm).catch(() => undefined);
                resolve(ok);
              });
          }, SCRUB_DELAY_MS);
          timer.unref();
          cancel = () => {
            clearTimeout(timer);
            resolve(false);
          };
        });
        this.parking.set(warmJob, { done, cancel: () => cancel() });
      }
    } finally {
      this.active.delete(buildId);
    }
  }

  /**
   * For a server stopping: deferred cleans not yet started are dropped, running ones awaited, so
   * nothing works in the data directory once the server has stopped. A tree left uncleaned is
   * cleaned by the build that next takes it, as after a restart.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    const parked = [...this.parking.values()];
    for (const p of parked) p.cancel();
    await Promise.all(parked.map((p) => p.done));
  }

  /** Removes `job`'s warm tree, if any (the job now asks for `workspace: fresh`). */
  async discardWarm(job: string): Promise<void> {
    const parking = this.parking.get(job);
    this.parking.delete(job);
    parking?.cancel();
    await parking?.done;
    await removeTree(this.warmPathOf(job));
  }

  /** Moves `dir` to `job`'s warm place; `false` when another build parked one there first. */
  private async park(dir: string, job: string): Promise<boolean> {
    await mkdir(join(this.root, 'warm'), { recursive: true });
    // rename() onto an existing non-empty directory fails (ENOTEMPTY): the one there stays.
    return rename(dir, this.warmPathOf(job)).then(
      () => true,
      () => false,
    );
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
export async function removeTree(dir: string): Promise<void> {
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
