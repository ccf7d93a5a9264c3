import { stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { CommitMemory } from './commit-memory.js';
import type { GitRunner } from './git-runner.js';
import { shownAbsent } from './object-absence.js';
import { RunError } from './run-error.js';
import { isFullSha } from '../core/git-sha.js';

/** What the rounds need of the mirrors (`GitMirrors`). */
export interface RoundMirrors {
  readonly memory: CommitMemory;
  readonly runGit: GitRunner;
  readonly localTimeoutMs: number;
  mirrorDir(url: string): string;
  ensureCommit(
    url: string,
    sha: string,
    signal?: AbortSignal,
    announced?: boolean,
  ): Promise<unknown>;
  fetchOrigin(url: string): Promise<void>;
  lastFetchStart(url: string): number;
  resolveCommit(mirror: string, sha: string, signal?: AbortSignal): Promise<string | null>;
}

/** Commits one `rev-list` is asked about (its output stays under the runner's capture limit). */
const CHECK_CHUNK = 500;
/** Rounds of at most this many versions read the object store before asking git. */
const READ_ABSENT_UPTO = 8;
/** Longest `notAncestorYet` may take (two local `rev-parse` at most); then "not shown". */
const EARLY_TIMEOUT_MS = 5_000;
/**
 * A round that leaves announced commits missing (the remote lacks them, or cannot be reached) is
 * followed by the next no sooner than this after it started: a storm of such pushes costs a few
 * rounds a second instead of back-to-back git processes taking the CPU the server needs.
 */
const AFTER_MISS_MS = 250;
/**
 * Rounds in a row that find none of their commits double that gap up to this: a storm that
 * finds nothing (a source pointed at the wrong repository, a remote that refuses us) costs one
 * round a second, not four; its versions' decisions wait for the round at most this long.
 */
const AFTER_MISSES_MAX_MS = 1_000;
/** Each round spawns git at least once: this bounds a mirror's chain to many minutes of events. */
const MAX_ROUNDS = 10_000;

/** A mirror's start-early fetches: the round being settled, and the versions announced since. */
interface RoundState {
  current: Set<string>;
  pending: Set<string>;
  roundDone: Promise<void>;
}

/**
 * Start-early fetches in rounds, one round per mirror at a time: versions announced during a
 * round wait for the next, which fetches once for all of them and sorts them into found and not
 * found (one `git rev-list`). A burst of events — a webhook storm, thousands of versions,
 * commits that exist nowhere — costs a few git processes per round, never a few per event, and
 * the scheduler's ancestry question reads the outcome instead of fetching again.
 */
export class PrefetchRounds {
  private readonly states = new Map<string, RoundState>();

  constructor(private readonly mirrors: RoundMirrors) {}

  /** Queues `sha` of `url` for the mirror's next round; returns at once. Safe to call twice. */
  prefetch(url: string, sha: string): void {
    const mirror = this.mirrors.mirrorDir(url);
    if (!isFullSha(sha) || this.mirrors.memory.isKnown(mirror, sha)) return;
    const running = this.states.get(mirror);
    if (running) {
      running.pending.add(sha);
      return;
    }
    const state: RoundState = {
      current: new Set(),
      pending: new Set([sha]),
      roundDone: Promise.resolve(),
    };
    this.states.set(mirror, state);
    void (async () => {
      let done = (): void => undefined;
      state.roundDone = new Promise<void>((resolve) => (done = resolve));
      let missedRounds = 0;
      for (let i = 0; i < MAX_ROUNDS && state.pending.size > 0; i++) {
        state.current = state.pending;
        state.pending = new Set();
        const roundStart = Date.now();
        // A round that failed counts as missing all of its versions.
        const versions = [...state.current];
        const missing = await this.settle(url, mirror, versions).catch(() => versions.length);
        // Settled: their waiters go on; versions announced since wait for the next round.
        state.current = new Set();
        const finished = done;
        state.roundDone = new Promise<void>((resolve) => (done = resolve));
        finished();
        missedRounds = missing === versions.length ? missedRounds + 1 : 0;
        if (missing > 0 && state.pending.size > 0) {
          const gapMs = Math.min(
            AFTER_MISS_MS * 2 ** Math.max(0, missedRounds - 1),
            AFTER_MISSES_MAX_MS,
          );
          const wait = roundStart + gapMs - Date.now();
          if (wait > 0) await sleep(wait, undefined, { ref: false });
        }
      }
      this.states.delete(mirror);
      done();
    })();
  }

  /**
   * `prefetch` for a question about a version: nothing when a round has it or a recent one found
   * it missing (that answers the question). (`prefetch` queues those again on purpose: a version
   * announced again may have been pushed since.)
   */
  prefetchOnce(url: string, sha: string): void {
    const mirror = this.mirrors.mirrorDir(url);
    if (this.has(mirror, sha) || this.mirrors.memory.missingSince(mirror, sha) !== null) return;
    this.prefetch(url, sha);
  }

  /** Whether a round of `mirror` has `sha` still to settle. */
  has(mirror: string, sha: string): boolean {
    const state = this.states.get(mirror);
    return state !== undefined && (state.current.has(sha) || state.pending.has(sha));
  }

  /**
   * Whether `version`, which a round of `url`'s mirror is fetching right now, is shown not to be
   * an ancestor of `head` before that fetch ends: the mirror has `head` and not `version`, and a
   * repository that has a commit has its whole history, so `version` is not in it (a fast-forward
   * or a force push; which one is known once it is fetched). `false`: not shown, wait for the
   * fetch. (One case escapes: an unreachable head whose history `gc` partly pruned — a head
   * force-pushed away weeks ago and never replaced since.)
   */
  async notAncestorYet(url: string, version: string, head: string): Promise<boolean> {
    const mirror = this.mirrors.mirrorDir(url);
    if (!this.has(mirror, version)) return false;
    const { memory } = this.mirrors;
    if (memory.isKnown(mirror, version)) return false;
    // A head announced moments ago and still being fetched itself, or not found by a recent
    // fetch, is almost never in the mirror: not shown, without a `rev-parse` per event (a burst
    // of pushes of commits the remote does not have cost one git run each). The answer then
    // waits for the round, as it would have after that `rev-parse`.
    if (
      !memory.isKnown(mirror, head) &&
      (this.has(mirror, head) || memory.missingSince(mirror, head) !== null)
    )
      return false;
    // Bounded: the scheduler waits for this answer (a killed `rev-parse` reads as "not shown").
    const signal = AbortSignal.timeout(EARLY_TIMEOUT_MS);
    const headThere =
      memory.isKnown(mirror, head) ||
      (await this.mirrors.resolveCommit(mirror, head, signal)) !== null;
    if (!headThere || signal.aborted || !(await stat(mirror).catch(() => null))) return false;
    // Read from the object store when it can be: no git process while the fetch runs, and the
    // decision does not wait for one (a spawn through the helper costs milliseconds under load).
    if (await shownAbsent(mirror, version)) return true;
    const found = await this.mirrors.resolveCommit(mirror, version, signal);
    return found === null && !signal.aborted;
  }

  /** Resolves once no round of `mirror` still has `sha` to settle (at once when none has). */
  async settled(mirror: string, sha: string): Promise<void> {
    // A version waits for the round it is in; one announced during a round, for that and its own.
    for (let i = 0; i < 3; i++) {
      const state = this.states.get(mirror);
      if (!state || !this.has(mirror, sha)) return;
      await state.roundDone;
    }
  }

  /**
   * Makes the newest of `shas` present, then records each of the others as found or not.
   * Resolves to how many were not found.
   */
  private async settle(url: string, mirror: string, shas: readonly string[]): Promise<number> {
    const { memory } = this.mirrors;
    const roundStart = Date.now();
    const failed = await this.mirrors
      .ensureCommit(url, shas[shas.length - 1] as string, undefined, true)
      .then(
        () => null,
        (err: unknown) => (err instanceof Error ? err.message : String(err)),
      );
    // Announced again: checked again, a commit pushed after the last "not found" included.
    let rest = shas.filter((s) => !memory.isKnown(mirror, s));
    if (rest.length === 0) return 0;
    if ((await stat(mirror).catch(() => null)) === null) {
      // No mirror: the clone just failed (an unreachable remote). That stands for the whole
      // round, or every question would try the clone again, one event at a time.
      const reason = failed ?? `no mirror of ${url}`;
      for (const s of rest) memory.markMissing(mirror, s, roundStart, reason);
      return rest.length;
    }
    rest = await this.keepAbsent(mirror, rest);
    if (rest.length === 0) return 0;
    // Commits announced before the round are on the remote's branches only if a fetch started
    // since then shows them.
    if (this.mirrors.lastFetchStart(url) < roundStart) {
      await this.mirrors.fetchOrigin(url);
      rest = await this.keepAbsent(mirror, rest);
    }
    const at = this.mirrors.lastFetchStart(url);
    for (const s of rest) memory.markMissing(mirror, s, at, `commit ${s} not found in ${url}`);
    return rest.length;
  }

  /** Remembers the commits of `shas` the mirror has; returns the others. */
  private async keepAbsent(mirror: string, shas: readonly string[]): Promise<string[]> {
    const absent: string[] = [];
    let ask = shas;
    // A round of a few versions, usually just fetched for in vain: the object store shows them
    // absent without a `rev-list`. Many are left to one `rev-list`, which reads each pack index
    // once rather than once per version.
    if (shas.length <= READ_ABSENT_UPTO) {
      const shown = await Promise.all(shas.map((s) => shownAbsent(mirror, s)));
      absent.push(...shas.filter((_, i) => shown[i]));
      ask = shas.filter((_, i) => !shown[i]);
    }
    for (let i = 0; i < ask.length; i += CHECK_CHUNK) {
      const chunk = ask.slice(i, i + CHECK_CHUNK);
      const r = await this.mirrors.runGit(
        ['--git-dir', mirror, 'rev-list', '--no-walk', '--ignore-missing', ...chunk],
        { timeoutMs: this.mirrors.localTimeoutMs },
      );
      if (r.exitCode !== 0) throw new RunError('checkout', `git rev-list failed in ${mirror}`);
      const present = new Set(r.stdout.split('\n'));
      for (const s of chunk) {
        if (present.has(s)) this.mirrors.memory.remember(mirror, s);
        else absent.push(s);
      }
    }
    return absent;
  }
}
