import { randomUUID } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, rename, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

export interface WorkspacesOptions {
  /** How long a failed build's workspace stays for inspection. */
  readonly keepFailedMs: number;
  /** How long a job's warm tree waits for its next build before it is removed. */
  readonly keepWarmMs: number;
  /** Cap on the total size of kept workspaces and warm trees; the oldest are evicted first. */
  readonly maxBytes?: number | undefined;
}

/** Defaults of {@link WorkspacesOptions} (`nightless serve` and `nightless agent` flags). */
export const WORKSPACE_DEFAULTS = {
  keepFailedMs: 24 * 60 * 60 * 1000,
  keepWarmMs: 7 * 24 * 60 * 60 * 1000,
} as const satisfies WorkspacesOptions;

/**
 * How long after a passing build its parked tree is cleaned (see `release`): past the start of a
 * downstream build (~15 ms), before the next push of a busy repository (the clean is then off its
 * fetch window: bench/RESULTS.md, "Latency").
 */
const SCRUB_DELAY_MS = 50;

export interface WorkspaceDir {
  readonly dir: string;
  /** An earlier passing build's tree of the same job (see `Workspaces`). */
  readonly reused: boolean;
  /** That tree was cleaned (`clean -ffdx`) when it was parked: only a checkout is left to do. */
  readonly scrubbed: boolean;
}

export interface PruneResult {
  /** Builds whose kept workspace was removed. */
  readonly removed: readonly number[];
  /** Jobs whose warm tree was removed. */
  readonly removedWarm: readonly string[];
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
  /** The prune running now: another caller joins it instead of walking the trees again. */
  private pruning: Promise<PruneResult> | null = null;
  private pruneTimers: NodeJS.Timeout[] = [];
  /**
   * Sizes of kept and parked trees, so a size cap does not walk every tree after every build.
   * Only this class hands trees out and takes them back, and it forgets a tree's size then.
   */
  private readonly sizes = new Map<string, number>();
  /** Where a prune's outcome goes (`startPruning` gives the server's log). */
  private report: (result: PruneResult | Error) => void = () => undefined;
  /** Trees being removed now under `.evicting` (any other one there is a dead process's). */
  private readonly evicting = new Set<string>();

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
    this.sizes.delete(dir);
    await removeTree(dir);
    if (warmJob !== null) {
      const parking = this.parking.get(warmJob);
      this.parking.delete(warmJob);
      // Scrubbed at parking (resolved true); unknown after a restart (none): clean it now.
      parking?.cancel();
      const scrubbed = parking === undefined ? false : await parking.done;
      this.sizes.delete(this.warmPathOf(warmJob));
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
                this.sizes.delete(warm);
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
    for (const t of this.pruneTimers) clearTimeout(t);
    this.pruneTimers = [];
    const parked = [...this.parking.values()];
    for (const p of parked) p.cancel();
    await Promise.all([...parked.map((p) => p.done), this.pruning?.catch(() => undefined)]);
  }

  /**
   * Removes `job`'s warm tree (the job now asks for `workspace: fresh`, or the prune chose it);
   * `false` if there was none. Its clean, if pending, is cancelled (awaited if running). The tree
   * is first renamed out of `warm/`, atomically: a build of the job taking it at the same moment
   * gets either the whole tree or none, never half of one.
   */
  async discardWarm(job: string): Promise<boolean> {
    // A clean still to come would work on (and, failing, remove) whatever is parked there next.
    for (let p = this.parking.get(job); p !== undefined; p = this.parking.get(job)) {
      this.parking.delete(job);
      p.cancel();
      await p.done;
    }
    const warm = this.warmPathOf(job);
    this.sizes.delete(warm);
    // Asked after every build of a job without a warm tree: most often there is none.
    if ((await lstat(warm).catch(() => null)) === null) return false;
    const trash = join(this.root, EVICTING, randomUUID());
    await mkdir(join(this.root, EVICTING), { recursive: true });
    this.evicting.add(trash);
    try {
      const moved = await rename(warm, trash).then(
        () => true,
        () => false,
      );
      if (moved) await removeTree(trash);
      return moved;
    } finally {
      this.evicting.delete(trash);
    }
  }

  /** Moves `dir` to `job`'s warm place; `false` when another build parked one there first. */
  private async park(dir: string, job: string): Promise<boolean> {
    await mkdir(join(this.root, 'warm'), { recursive: true });
    // rename() onto an existing non-empty directory fails (ENOTEMPTY): the one there stays.
    const warm = this.warmPathOf(job);
    const parked = await rename(dir, warm).then(
      () => true,
      () => false,
    );
    if (!parked) return false;
    this.sizes.delete(dir);
    this.sizes.delete(warm);
    // Its mtime says when the job last passed here (the idle time `keepWarmMs` counts from).
    const now = new Date();
    await utimes(warm, now, now).catch(() => undefined);
    return true;
  }

  /**
   * Removes kept workspaces older than `keepFailedMs` and warm trees whose job has not passed here
   * for `keepWarmMs` (a job renamed or gone from the pipeline leaves one behind), then the oldest
   * of either kind while the rest exceed `maxBytes`. Safe to call at any time, also concurrently
   * with running builds; a call while one runs gets that one's result.
   */
  prune(now = Date.now()): Promise<PruneResult> {
    this.pruning ??= this.pruneNow(now)
      .then(
        (r) => (this.report(r), r),
        (err: unknown) => {
          this.report(err as Error);
          throw err;
        },
      )
      .finally(() => {
        this.pruning = null;
      });
    return this.pruning;
  }

  /**
   * Prunes soon (within a minute: a server restarted more often than `everyMs` still prunes),
   * then every `everyMs`, besides after every build; an idle machine's trees expire too. From
   * then on every prune that removes something (or fails) says so in `logger`. `stop` ends it.
   */
  startPruning(everyMs: number, logger: PruneLog): void {
    this.report = reportPrune(logger);
    const run = (): void => {
      if (!this.stopping) this.prune().catch(() => undefined);
    };
    const first = setTimeout(
      () => {
        run();
        const timer = setInterval(run, everyMs);
        timer.unref();
        this.pruneTimers.push(timer);
      },
      Math.min(everyMs, 60_000),
    );
    first.unref();
    this.pruneTimers.push(first);
  }

  private async pruneNow(now: number): Promise<PruneResult> {
    type Kept = { path: string; mtimeMs: number; bytes: number; evict: () => Promise<boolean> };
    const removed: number[] = [];
    const removedWarm: string[] = [];
    const kept: Kept[] = [];
    const expired: Kept[] = [];
    const sort = (k: Kept, keepMs: number): void => {
      (now - k.mtimeMs > keepMs ? expired : kept).push(k);
    };
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      const id = Number(name);
      if (!/^\d+$/.test(name) || this.active.has(id)) continue;
      const path = join(this.root, name);
      const st = await stat(path).catch(() => null);
      if (st?.isDirectory() !== true) continue;
      const evict = async (): Promise<boolean> => {
        if (this.active.has(id)) return false;
        await removeTree(path);
        this.sizes.delete(path);
        removed.push(id);
        return true;
      };
      sort({ path, mtimeMs: st.mtimeMs, bytes: 0, evict }, this.options.keepFailedMs);
    }
    for (const name of await readdir(join(this.root, 'warm')).catch(() => [] as string[])) {
      const path = join(this.root, 'warm', name);
      const st = await stat(path).catch(() => null);
      if (st?.isDirectory() !== true) continue;
      const job = decodeURIComponent(name);
      const evict = async (): Promise<boolean> => {
        const gone = await this.discardWarm(job);
        if (gone) removedWarm.push(job);
        return gone;
      };
      sort({ path, mtimeMs: st.mtimeMs, bytes: 0, evict }, this.options.keepWarmMs);
    }
    // Left by a removal the process did not live to finish.
    for (const name of await readdir(join(this.root, EVICTING)).catch(() => [] as string[])) {
      const path = join(this.root, EVICTING, name);
      if (!this.evicting.has(path)) await removeTree(path);
    }
    let freedBytes = 0;
    const evict = async (k: Kept): Promise<void> => {
      k.bytes = await this.sizeOf(k.path);
      if (await k.evict()) freedBytes += k.bytes;
    };
    for (const k of expired) await evict(k);
    const cap = this.options.maxBytes;
    if (cap !== undefined) {
      kept.sort((a, b) => a.mtimeMs - b.mtimeMs);
      let total = 0;
      for (const k of kept) {
        k.bytes = await this.sizeOf(k.path);
        total += k.bytes;
      }
      for (const k of kept) {
        if (total <= cap) break;
        await evict(k);
        total -= k.bytes;
      }
    }
    return { removed, removedWarm, freedBytes };
  }

  private async sizeOf(path: string): Promise<number> {
    let bytes = this.sizes.get(path);
    if (bytes === undefined) {
      bytes = await treeBytes(path);
      this.sizes.set(path, bytes);
    }
    return bytes;
  }
}

/** The part of the server's (or agent's) logger a periodic prune writes to. */
export interface PruneLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

/** What a periodic prune says: only when it removed something, or failed. */
function reportPrune(logger: PruneLog): (result: PruneResult | Error) => void {
  return (r) => {
    if (r instanceof Error) logger.warn({ err: r }, 'pruning workspaces failed; next run retries');
    else if (r.removed.length + r.removedWarm.length > 0)
      logger.info(
        { builds: r.removed, warmJobs: r.removedWarm, freedBytes: r.freedBytes },
        'removed kept workspaces and idle warm trees',
      );
  };
}

/** Where trees wait to be removed once renamed out of the way (`<root>/.evicting/<uuid>`). */
const EVICTING = '.evicting';

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
