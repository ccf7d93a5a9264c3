import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { boundedMemo } from '../core/bounded-memo.js';
import { DEFAULT_NETWORK_LIMITS, type NetworkLimits } from '../core/pipeline.js';
import type { RunTicket } from '../spawn/process-helper.js';
import { holdGit, spawnGit, type GitRunner, type GitRunResult } from './git-runner.js';
import type { ArmTiming } from './armed-fetches.js';
import { looseCommitParents } from './loose-object.js';
import { knownRelationIn, relationIn, type KnownRelation } from './mirror-relation.js';
import { CommitMemory } from './commit-memory.js';
import { GitRuns } from './git-runs.js';
import { PrefetchRounds } from './prefetch-rounds.js';
import { changedPathsIn } from './changed-paths-in-mirror.js';
import { freshCheckout } from './fresh-checkout.js';
import { mergeTip } from './merge-target.js';
import { MirrorMaintenance, type MaintenanceTiming } from './mirror-maintenance.js';
import { MirrorFetches } from './mirror-fetches.js';
import { RunError } from './run-error.js';
import { remoteError } from './remote-error.js';
import { isFullSha } from '../core/git-sha.js';

export interface GitMirrorOptions {
  readonly runGit?: GitRunner;
  /** Timeout of `clone --mirror` and `fetch` (network); default 10 min. */
  readonly networkTimeoutMs?: number;
  /** Timeout of local git commands (checkout...); default 2 min. */
  readonly localTimeoutMs?: number;
  /** Connect and stall limits of clone/fetch; default `DEFAULT_NETWORK_LIMITS`. */
  readonly network?: NetworkLimits;
  /** When git's maintenance of a fetched mirror runs (`MirrorMaintenance`); tests shorten it. */
  readonly maintenance?: MaintenanceTiming;
  /** When branch fetches are armed (`ArmedFetches`: with the real runner only); tests shorten it. */
  readonly arming?: ArmTiming;
}

const SHA_RE = /^[0-9a-f]{7,64}$/i;
/**
 * Per-repository mirror cache `<root>/<sha256(url)[0..16]>.git` and checkouts from it.
 *
 * A mirror is cloned once and fetched only when a wanted commit is missing, so a build of a
 * known commit touches no network. Operations on one mirror are serialized in this process (one
 * promise chain per mirror); different mirrors proceed in parallel.
 */
export class GitMirrors {
  readonly runGit: GitRunner;
  private readonly networkTimeoutMs: number;
  readonly localTimeoutMs: number;
  private readonly locks = new Map<string, Promise<unknown>>();
  private network: NetworkLimits;
  readonly memory = new CommitMemory();
  /** The start-early fetches (`prefetch`; `rounds.prefetchOnce` for the scheduler's questions). */
  readonly rounds = new PrefetchRounds(this);
  /** Every git run of these mirrors, killed by `close`. */
  private readonly runs: GitRuns;
  /** Mirrors this process found on disk (a removed one is noticed when git fails on it). */
  private readonly present = new Set<string>();
  /** The fetches of announced versions in flight, by `mirror\0sha`. */
  private readonly flights = new Map<string, Promise<{ mirror: string; commit: string }>>();
  readonly fetches: MirrorFetches;
  private readonly maintenance: MirrorMaintenance;

  constructor(
    readonly root: string,
    options: GitMirrorOptions = {},
  ) {
    // A runner of the caller's (tests counting commands) gets no commands started ahead.
    this.runs = new GitRuns(options.runGit ?? spawnGit, options.runGit ? undefined : holdGit);
    this.runGit = this.runs.run;
    this.networkTimeoutMs = options.networkTimeoutMs ?? 10 * 60_000;
    this.localTimeoutMs = options.localTimeoutMs ?? 2 * 60_000;
    this.network = options.network ?? DEFAULT_NETWORK_LIMITS;
    this.maintenance = new MirrorMaintenance(
      (mirror) => this.locked(mirror, () => this.maintain(mirror)),
      options.maintenance,
    );
    this.fetches = new MirrorFetches({
      remoteGit: (args, signal) => this.remoteGit(args, signal),
      expectRemote: (args, what, url, signal, onTicket) =>
        this.expectRemote(args, what, url, signal, onTicket),
      resolveCommit: (mirror, sha, signal) => this.resolveCommit(mirror, sha, signal),
      fetched: (mirror) => this.maintenance.fetched(mirror),
      networkTimeoutMs: this.networkTimeoutMs,
      hold: (args, network) => this.runs.hold(args, { timeoutMs: this.networkTimeoutMs, network }),
      limits: () => this.network,
      arming: options.arming,
    });
  }

  /**
   * The server stops: cancels maintenance not yet started, kills every git run of these mirrors
   * and waits for them (bounded); returns how many were still going. Safe to call twice.
   */
  close(): Promise<number> {
    this.maintenance.stop();
    this.fetches.close();
    return this.runs.close();
  }

  /** Whether a maintenance run of `url`'s mirror is waiting for its quiet period. */
  maintenancePending(url: string): boolean {
    return this.maintenance.pending(this.mirrorDir(url));
  }

  /** What a fetch would have run before exiting (see `MirrorMaintenance`). */
  private async maintain(mirror: string): Promise<void> {
    if (!(await exists(mirror))) return;
    await this.git(
      ['--git-dir', mirror, 'maintenance', 'run', '--auto', '--quiet'],
      this.localTimeoutMs,
    );
  }

  /** The pipeline's `network:` limits, applied to clones and fetches that start from now on. */
  setNetworkLimits(limits: NetworkLimits): void {
    this.network = limits;
  }

  /** Asked several times per event on the hot path: remembered rather than hashed each time. */
  readonly mirrorDir = boundedMemo((url: string) =>
    join(this.root, `${createHash('sha256').update(url).digest('hex').slice(0, 16)}.git`),
  );

  /**
   * Makes sure the mirror of `url` holds `sha` (cloning or fetching as needed) and returns the full
   * commit id. Throws `RunError('checkout')` when the commit cannot be found.
   */
  async ensureCommit(
    url: string,
    sha: string,
    signal?: AbortSignal,
    announced = false,
  ): Promise<{ mirror: string; commit: string }> {
    if (!SHA_RE.test(sha))
      throw new RunError('checkout', `not a commit id: ${JSON.stringify(sha)}`);
    const mirror = this.mirrorDir(url);
    // Answered without git and without waiting for a fetch in progress: the scheduler asked
    // about it a moment ago, or the start-early fetch brought it in. A stat guards against a
    // mirror removed since (an operator clearing the cache): then it is cloned again.
    if (this.memory.isKnown(mirror, sha) && (await exists(mirror))) return { mirror, commit: sha };
    // A version just announced, of a mirror seen here before and free: its fetch is handed to
    // git before this returns, ahead of the caller's synchronous inbox write (no stat, no
    // loose-object read first: such a version is almost never there yet).
    if (announced && this.present.has(mirror) && !this.locks.has(mirror)) {
      const flight = this.locked(mirror, () => this.fetchAnnounced(url, mirror, sha, signal), true);
      const key = `${mirror}\0${sha}`;
      const land = (): void => void this.flights.delete(key);
      this.flights.set(key, flight);
      flight.then(land, land);
      return flight;
    }
    // The build of a version being fetched that way takes the commit the moment it lands (no
    // turn in the mirror's queue, no stat); if that fetch failed, it fetches itself, as always.
    const flight = this.flights.get(`${mirror}\0${sha}`);
    const locked = () =>
      this.locked(mirror, () => this.ensureLocked(url, mirror, sha, signal, announced));
    return flight === undefined ? locked() : flight.catch(locked);
  }

  /** `ensureCommit` of an announced version, the mirror taken as present: fetch first. */
  private async fetchAnnounced(
    url: string,
    mirror: string,
    sha: string,
    signal: AbortSignal | undefined,
  ): Promise<{ mirror: string; commit: string }> {
    const fetchedAt = Date.now();
    try {
      const commit = await this.fetches.fetchUntilFound(url, mirror, sha, signal);
      return { mirror, commit: this.memory.remember(mirror, commit) };
    } catch (err) {
      // Removed since it was seen (an operator clearing the cache): cloned again, as always.
      if (!(await exists(mirror))) return this.ensureLocked(url, mirror, sha, signal, true);
      if (err instanceof RunError) this.memory.markMissing(mirror, sha, fetchedAt, err.message);
      throw err;
    }
  }

  /** `ensureCommit` under the mirror's lock. */
  private async ensureLocked(
    url: string,
    mirror: string,
    sha: string,
    signal: AbortSignal | undefined,
    announced: boolean,
  ): Promise<{ mirror: string; commit: string }> {
    if (!(await exists(mirror))) {
      this.present.delete(mirror);
      this.fetches.forget(mirror);
      this.memory.clear();
      await this.cloneMirror(url, mirror, signal);
      this.present.add(mirror);
    } else {
      this.present.add(mirror);
      if (this.memory.isKnown(mirror, sha)) return { mirror, commit: sha };
    }
    // A version just announced is almost never in the mirror yet: only the free loose-object
    // read before fetching, not a `rev-parse` (one process less before the build can start).
    let commit = announced
      ? (await looseCommitParents(mirror, sha)) && sha
      : await this.resolveCommit(mirror, sha, signal);
    if (commit !== null) return { mirror, commit: this.memory.remember(mirror, commit) };
    const fetchedAt = Date.now();
    try {
      commit = await this.fetches.fetchUntilFound(url, mirror, sha, signal);
    } catch (err) {
      // The scheduler's ancestry question takes this as the answer for a while instead of
      // fetching again for every event that names the commit; builds always fetch.
      if (err instanceof RunError) this.memory.markMissing(mirror, sha, fetchedAt, err.message);
      throw err;
    }
    return { mirror, commit: this.memory.remember(mirror, commit) };
  }

  /**
   * The fetch now bringing `sha` (a full id) into `url`'s mirror — the start-early fetch of an
   * announced version, still running — for a checkout to follow (`GitRunOptions.after`): it then
   * starts the moment git exits, not after a round trip through this process. `undefined` when
   * there is none (the caller awaits `ensureCommit` as usual). A follower that fails, because the
   * branches did not bring the commit, is no answer: `ensureCommit` still is.
   */
  fetchBringing(url: string, sha: string): RunTicket | undefined {
    if (!isFullSha(sha)) return undefined;
    const mirror = this.mirrorDir(url);
    // The flight holds the mirror's lock: the branch fetch running there is its own.
    return this.flights.has(`${mirror}\0${sha}`) ? this.fetches.runningIn(mirror) : undefined;
  }

  /**
   * Starts `ensureCommit` without waiting for it (the start-early fetch when an event is
   * accepted, in parallel with deciding); a failure is left for the build to report.
   */
  prefetch(url: string, sha: string): void {
    this.rounds.prefetch(url, sha);
  }

  /**
   * Fetches `url` into its existing mirror (serialized with the mirror's other operations) and
   * notes when it started: the mirror then shows every commit pushed before that moment.
   */
  fetchOrigin(url: string): Promise<void> {
    const mirror = this.mirrorDir(url);
    return this.locked(mirror, () => this.fetches.fetchBranches(url, mirror));
  }

  /** See `PrefetchRounds.notAncestorYet`: not an ancestor of `head`, before the fetch ends. */
  notAncestorYet(url: string, version: string, head: string): Promise<boolean> {
    return this.rounds.notAncestorYet(url, version, head);
  }

  /** When the newest fetch of `url`'s mirror started, or 0. */
  lastFetchStart(url: string): number {
    return this.fetches.lastStart(this.mirrorDir(url));
  }

  /** Checks `commit` out (detached) into `dest`, absent or empty (see `freshCheckout`). */
  checkout(
    mirror: string,
    commit: string,
    dest: string,
    url: string,
    signal?: AbortSignal,
  ): Promise<void> {
    return freshCheckout(this, { mirror, commit, dest, url, signal });
  }

  /** Merges `target`'s tip into the checkout at `dest` (`checkout: merge`, see `mergeTip`). */
  async mergeTarget(
    mirror: string,
    dest: string,
    target: string,
    url: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const tip = await this.locked(mirror, () =>
      this.resolveCommit(mirror, `refs/heads/${target}`, signal),
    );
    return mergeTip(this, { tip, dest, target, url, ...(signal ? { signal } : {}) });
  }

  private async cloneMirror(url: string, mirror: string, signal?: AbortSignal): Promise<void> {
    await mkdir(this.root, { recursive: true });
    // Clone next to the final place, then rename: an interrupted clone never looks like a mirror.
    const tmp = `${mirror}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await this.expectRemote(
        ['clone', '--mirror', '--progress', '--', url, tmp],
        'clone',
        url,
        signal,
      );
      await rename(tmp, mirror);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  async resolveCommit(mirror: string, sha: string, signal?: AbortSignal): Promise<string | null> {
    // A commit fetched moments ago is usually a loose object: no git process needed.
    if ((await looseCommitParents(mirror, sha)) !== null) return sha;
    const r = await this.git(
      ['--git-dir', mirror, 'rev-parse', '--verify', '--quiet', `${sha}^{commit}`],
      this.localTimeoutMs,
      signal,
    );
    const out = r.stdout.trim();
    return r.exitCode === 0 && /^[0-9a-f]{40,64}$/.test(out) ? out : null;
  }

  /**
   * Paths that differ between two commits of `url` (see `changedPathsIn`), fetching them into
   * the mirror as needed so the build that follows finds them there.
   */
  changedPaths(
    url: string,
    from: string | null,
    to: string,
    signal?: AbortSignal,
  ): Promise<string[] | null> {
    return changedPathsIn(this, url, from, to, signal);
  }

  /**
   * What `relation` would answer without git or waiting: `unknown` when a recent fetch did not
   * find either commit (the build fetches again and reports it), else `null` (ask `relation`).
   */
  knownRelation(url: string, version: string, head: string): KnownRelation | null {
    return knownRelationIn(this, this.rounds, url, version, head);
  }

  /**
   * How `version` relates to `head` in `url`'s history (see `relationIn`): `ancestor`,
   * `descendant` (a fast-forward) or `unrelated` (a force push). Throws `RunError` when a commit
   * cannot be found or git fails.
   */
  relation(
    url: string,
    version: string,
    head: string,
    signal?: AbortSignal,
  ): Promise<'ancestor' | 'descendant' | 'unrelated'> {
    return relationIn(this, this.rounds, url, version, head, signal);
  }

  /** A command that talks to the remote: network limits, and a failure says whose it is. */
  private async expectRemote(
    args: readonly string[],
    what: string,
    url: string,
    signal?: AbortSignal,
    onTicket?: (ticket: RunTicket) => void,
  ): Promise<GitRunResult> {
    const r = await this.remoteGit(args, signal, onTicket);
    if (r.exitCode === 0) return r;
    throw remoteError(r, what, url, this.networkTimeoutMs);
  }

  private remoteGit(
    args: readonly string[],
    signal?: AbortSignal,
    onTicket?: (ticket: RunTicket) => void,
  ): Promise<GitRunResult> {
    const network = this.network;
    const timeoutMs = this.networkTimeoutMs;
    return this.runGit(args, {
      timeoutMs,
      network,
      ...(signal === undefined ? {} : { signal }),
      ...(onTicket === undefined ? {} : { onTicket }),
    });
  }

  git(args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<GitRunResult> {
    return this.runGit(args, signal === undefined ? { timeoutMs } : { timeoutMs, signal });
  }

  /**
   * Runs `fn` once the operations queued on `key` before it are done. `now`: when none is
   * queued, `fn` starts before this returns (its synchronous part: a git run's hand-off).
   */
  private locked<T>(key: string, fn: () => Promise<T>, now = false): Promise<T> {
    const prev = this.locks.get(key);
    const next = prev === undefined && now ? fn() : (prev ?? Promise.resolve()).then(fn, fn);
    const tail = next.catch(() => undefined);
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }
}

async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null)) !== null;
}
