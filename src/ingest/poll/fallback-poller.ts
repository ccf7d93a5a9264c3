import type { ChangeRequestPort } from '../../store/ports/change-requests.js';
import type { Logger } from 'pino';
import { nextPollDelay } from '../../core/poll-interval.js';
import { redactText } from '../../core/redact.js';
import type { GitSource, HttpSource, Pipeline, SourceName } from '../../core/pipeline.js';
import type { NewEvent, SourcePort } from '../../store/ports.js';
import type { ChangedPathsLookup } from '../changed-paths.js';
import { findGitVersions, findHttpVersion, type Reported } from './find-versions.js';
import { pollRequests } from './request-poll.js';
import { lsRemoteAll, pollLimits, type RemoteHead } from './git-ls-remote.js';
import { runWidening } from '../../async/widening-pool.js';

/**
 * A `git ls-remote` of a `file://` repository takes 10–100 ms, nearly all of it CPU; a remote
 * one mostly waits on the network. A check running longer is waiting, so the next may start.
 */
const SLOW_CHECK_MS = 250;

export interface PollerDeps {
  readonly store: SourcePort;
  readonly ingest: (events: readonly NewEvent[]) => Promise<unknown>;
  readonly pipeline: () => Pipeline;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  /**
   * Paths changed between two commits of a git source, so path filters work for versions the
   * poll finds too (events from forges carry them; `git ls-remote` does not). `null` = unknown.
   */
  readonly changedPaths?: ChangedPathsLookup;
  /**
   * A tighter bound on a single check (ls-remote or GET) than the pipeline's `network:` limits,
   * which otherwise bound it to connect + stall time (tests).
   */
  readonly checkTimeoutMs?: number;
  /** A check finished, scheduled or asked for (metrics); called after it is recorded. */
  readonly onPoll?: (report: PollReport) => void;
  /** Scheduled checks running at once, at most (default 8); `pollNow` is not limited. */
  readonly maxConcurrentChecks?: number;
  /**
   * A check running this long lets the next one start beside it (default `SLOW_CHECK_MS`);
   * quicker ones run one after the other.
   */
  readonly slowCheckMs?: number;
  /** Where change requests found by polling are recorded (`change_requests.api`). */
  readonly requests?: Pick<ChangeRequestPort, 'recordRequest' | 'listRequests'>;
}

export interface PollOutcome {
  readonly source: SourceName;
  readonly ok: boolean;
  readonly error: string | null;
  readonly newVersions: number;
  readonly nextCheckAt: number | null;
}

/** What `onPoll` hears: the outcome, and whether the check found a version no event announced. */
export interface PollReport extends PollOutcome {
  readonly missed: boolean;
}

type Pollable = GitSource | HttpSource;

/**
 * The visible safety net: checks each git/http source at its `fallback_poll` interval and
 * records what no event announced as a missed event. One timer for all sources (the earliest
 * due), so 1,000 idle sources cost one wake-up per check, not a thousand timers.
 */
export class FallbackPoller {
  private readonly due = new Map<SourceName, number>();
  private readonly failures = new Map<SourceName, number>();
  private readonly missedStreak = new Map<SourceName, number>();
  private readonly etags = new Map<SourceName, string>();
  /** Per `source\0ref`: the version a check last reported and the head it was compared with. */
  private readonly reported = new Map<string, { sha: string; head: string | undefined }>();
  private readonly inFlight = new Map<SourceName, Promise<PollOutcome>>();
  /** Sources `resync` has scheduled since start (so a reload tells added ones apart). */
  private readonly seen = new Set<SourceName>();
  /** `fallback_poll: off` sources whose one check at start/addition has not run yet. */
  private readonly firstCheck = new Set<SourceName>();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly checkTimeoutMs: number | undefined;

  constructor(private readonly deps: PollerDeps) {
    this.now = deps.now ?? Date.now;
    this.random = deps.random ?? Math.random;
    this.checkTimeoutMs = deps.checkTimeoutMs;
  }

  /** The pipeline's `network:` limits (read per check, so a reload applies to the next one). */
  private limits(): ReturnType<typeof pollLimits> {
    return pollLimits(this.deps.pipeline().network, this.checkTimeoutMs);
  }

  /**
   * Schedules every pollable source: those never seen are checked right away, and so is every
   * source with `fallback_poll: off` (once).
   */
  async start(): Promise<void> {
    await this.resync();
  }

  /**
   * After a pipeline reload: new sources get scheduled, removed ones forgotten. A source with
   * `fallback_poll: off` is checked once when it first appears (at start, or when a reload adds
   * it) — one `git ls-remote` or GET — so its head is known and `trigger` works before the
   * first event; it is not checked again on its own. Safe to call repeatedly.
   */
  async resync(): Promise<void> {
    const now = this.now();
    const all = this.pollables(true);
    const names = new Set(all.map((s) => s.name));
    for (const name of this.seen) if (!names.has(name)) this.seen.delete(name);
    for (const name of this.due.keys()) {
      const def = all.find((s) => s.name === name);
      // Polling turned off by a reload: drop its schedule, unless it is the one first check.
      if (!def || (def.fallbackPollMs === null && !this.firstCheck.has(name)))
        this.due.delete(name);
    }
    for (const s of all) {
      const added = !this.seen.has(s.name);
      this.seen.add(s.name);
      if (s.fallbackPollMs === null) {
        if (!added) continue;
        this.firstCheck.add(s.name);
        this.due.set(s.name, now);
        await this.deps.store.setNextCheck(s.name, now);
        continue;
      }
      if (this.due.has(s.name)) continue;
      const heads = await this.deps.store.sourceHeads(s.name);
      // A source with no known version is checked at once: that is how a new pipeline learns
      // its starting point without waiting for the first push.
      this.due.set(s.name, heads.length === 0 ? now : now + this.delay(s));
      await this.deps.store.setNextCheck(s.name, this.due.get(s.name) ?? null);
    }
    this.arm();
  }

  /** Checks one source now (`nightless poll SOURCE`); concurrent calls share one check. */
  pollNow(name: SourceName): Promise<PollOutcome> {
    const source = this.pollables(true).find((s) => s.name === name);
    if (!source)
      return Promise.reject(
        new Error(`source "${name}" cannot be polled (only git and http sources can)`),
      );
    return this.track(source, () => this.check(source));
  }

  /**
   * Checks every source that has a fallback poll now (`nightless poll --all`, e.g. after a
   * webhook outage), the sources on one git repository with one `git ls-remote`.
   */
  pollAll(): Promise<PollOutcome[]> {
    const all = this.pollables();
    for (const s of all) this.due.delete(s.name);
    return this.runChecks(all).finally(() => this.arm());
  }

  /** Whether `nightless poll NAME` can check this source. */
  /** Names of the pipeline's sources (for "did you mean" in answers about a missing one). */
  sourceNames(): SourceName[] {
    return [...this.deps.pipeline().sources.keys()];
  }

  canPoll(name: SourceName): true | 'missing' | 'not-pollable' {
    const def = this.deps.pipeline().sources.get(name);
    if (!def) return 'missing';
    return def.kind === 'git' || def.kind === 'http' ? true : 'not-pollable';
  }

  /** An event arrived for the source: events work, so the interval returns to normal. */
  eventArrived(name: SourceName): void {
    this.missedStreak.delete(name);
  }

  /**
   * Schedules no more checks and waits for those running (each bounded by its timeout): a check
   * that outlived `stop` would write to an inbox and a store that are closing.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await Promise.allSettled([...this.inFlight.values()]);
  }

  private pollables(includeOff = false): Pollable[] {
    return [...this.deps.pipeline().sources.values()].filter(
      (s): s is Pollable =>
        (s.kind === 'git' || s.kind === 'http') && (includeOff || s.fallbackPollMs !== null),
    );
  }

  private delay(s: Pollable): number {
    return nextPollDelay({
      baseMs: s.fallbackPollMs ?? 0,
      failures: this.failures.get(s.name) ?? 0,
      missedStreak: this.missedStreak.get(s.name) ?? 0,
      random: this.random(),
    });
  }

  private arm(): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    let next = Infinity;
    for (const at of this.due.values()) next = Math.min(next, at);
    if (next === Infinity) return;
    this.timer = setTimeout(
      () => void this.tick(),
      Math.max(0, Math.min(next - this.now(), 2 ** 31 - 1)),
    );
    this.timer.unref();
  }

  /**
   * Runs the due checks. A due git source takes the other sources on its repository along: one
   * `git ls-remote` answers for all of them (a git process costs ~20 ms of CPU on a small VM),
   * and from then on they fall due together.
   */
  private async tick(): Promise<void> {
    this.timer = null;
    const now = this.now();
    const isDue = (s: Pollable) => (this.due.get(s.name) ?? Infinity) <= now;
    // `off` sources are only ever due for their one first check; they never ride along.
    const pollables = this.pollables(true);
    const dueRepos = new Set(pollables.filter(isDue).map(repoKey));
    const batch = pollables.filter(
      (s) =>
        isDue(s) ||
        (s.fallbackPollMs !== null && dueRepos.has(repoKey(s)) && !this.inFlight.has(s.name)),
    );
    for (const s of batch) this.due.delete(s.name);
    await this.runChecks(batch);
    this.arm();
  }

  /**
   * Checks `sources`, one repository at a time while the checks are quick, more at once only
   * while the running ones wait (`runWidening`): a first start with 1,000 unseen sources must
   * not fork 1,000 `git ls-remote`s at once (on 2 cores, 40 % of them hit their 30 s timeout and
   * backed off); quick checks run eight at a time cost ~1.3–1.7× the CPU of the same checks one
   * after the other on 2 CPUs (bench/RESULTS.md, "Ingest"); and a slow remote must not hold the
   * others back. Each check's timeout starts when it starts, not while it waits its turn.
   */
  private async runChecks(sources: readonly Pollable[]): Promise<PollOutcome[]> {
    const byRepo = new Map<string, Pollable[]>();
    for (const s of sources) {
      const group = byRepo.get(repoKey(s));
      if (group) group.push(s);
      else byRepo.set(repoKey(s), [s]);
    }
    const outcomes: PollOutcome[] = [];
    await runWidening(
      [...byRepo.values()],
      async (group) => void outcomes.push(...(await this.checkGroup(group))),
      {
        maxWidth: this.deps.maxConcurrentChecks ?? 8,
        slowAfterMs: this.deps.slowCheckMs ?? SLOW_CHECK_MS,
        stopped: () => this.stopped,
      },
    );
    return outcomes;
  }

  /** One check per source, one after the other; git sources share one `ls-remote`. */
  private async checkGroup(group: readonly Pollable[]): Promise<PollOutcome[]> {
    const [first] = group;
    let shared: Promise<readonly RemoteHead[]> | undefined;
    if (first?.kind === 'git' && group.length > 1) {
      shared = lsRemoteAll(first.url, this.limits());
      shared.catch(() => undefined); // each source's check reports the failure
    }
    const outcomes: PollOutcome[] = [];
    for (const s of group) {
      // A check reports its remote's failures as its outcome; a rejection is the store failing.
      const outcome = await this.track(s, () => this.check(s, shared)).catch((err: unknown) => {
        const error = this.redacted(err);
        this.deps.logger.error({ source: s.name, error }, 'fallback poll could not record a check');
      });
      if (outcome) outcomes.push(outcome);
    }
    return outcomes;
  }

  /** Concurrent checks of one source share one run. */
  private track(source: Pollable, run: () => Promise<PollOutcome>): Promise<PollOutcome> {
    const running = this.inFlight.get(source.name);
    if (running) return running;
    const p = run().finally(() => this.inFlight.delete(source.name));
    this.inFlight.set(source.name, p);
    return p;
  }

  /** `repoHeads`: every head of the source's repository, from an `ls-remote` shared by a group. */
  private async check(
    source: Pollable,
    repoHeads?: Promise<readonly RemoteHead[]>,
  ): Promise<PollOutcome> {
    const { store, logger } = this.deps;
    const at = this.now();
    const limits = this.limits();
    const timeoutMs = limits.timeoutMs;
    let error: string | null = null;
    let found: NewEvent[] = [];
    let missed = false;
    let reported: Reported[] = [];
    try {
      const known = await store.sourceHeads(source.name);
      const findings =
        source.kind === 'git'
          ? await findGitVersions(source, known, at, {
              limits,
              reported: this.reported,
              changedPaths: this.deps.changedPaths,
              repoHeads,
            })
          : await findHttpVersion(source, known, at, this.etags, timeoutMs);
      ({ found, missed, reported } = findings);
      if (source.kind === 'git') {
        // Open change requests, through the forge's API: a request whose webhook was missed.
        const polled = await pollRequests(source, known, at, timeoutMs, this.deps.requests);
        missed ||= polled.missed;
        found = [...found, ...polled.events];
      }
      if (found.length > 0) {
        // Received when the check answered, not when it started: the time since is the
        // event's own (the check's, `ls-remote` and all, is the poll's).
        const foundAt = this.now();
        found = found.map((e) => ({ ...e, receivedAt: foundAt }));
        await this.deps.ingest(found);
        logger.info(
          {
            source: source.name,
            versions: found.map((e) =>
              e.kind === 'source' ? `${e.ref === null ? '' : `${e.ref}@`}${e.version}` : e.kind,
            ),
          },
          'source check found new versions',
        );
      }
      // Only once in the inbox: a failed write must be reported again by the next check.
      for (const [key, r] of reported) this.reported.set(key, r);
      this.failures.delete(source.name);
      this.missedStreak.set(
        source.name,
        missed ? (this.missedStreak.get(source.name) ?? 0) + 1 : 0,
      );
      if (missed)
        logger.warn(
          { source: source.name },
          'fallback poll found a version no event announced (missed event)',
        );
    } catch (err) {
      // Stored and shown by `nightless sources`/`status`, and logged: never with a secret in it.
      error = this.redacted(err);
      this.failures.set(source.name, (this.failures.get(source.name) ?? 0) + 1);
      logger.warn({ source: source.name, error }, 'fallback poll failed');
    }
    // An `off` source's first check is retried with backoff until it succeeds once: a network
    // blip at start must not leave it without a head until the first push.
    const retryFirst =
      source.fallbackPollMs === null && error !== null && this.firstCheck.has(source.name);
    if (source.fallbackPollMs === null && !retryFirst) {
      this.firstCheck.delete(source.name);
      this.due.delete(source.name);
    }
    const nextCheckAt =
      source.fallbackPollMs === null && !retryFirst ? null : this.now() + this.delay(source);
    if (nextCheckAt !== null && !this.stopped) {
      this.due.set(source.name, nextCheckAt);
      this.arm();
    }
    await store.recordPoll(source.name, { at, ok: error === null, error, nextCheckAt, missed });
    const outcome: PollOutcome = {
      source: source.name,
      ok: error === null,
      error,
      newVersions: found.length,
      nextCheckAt,
    };
    this.deps.onPoll?.({ ...outcome, missed });
    return outcome;
  }

  /** An error's message as stored and logged: never with a secret in it. */
  private redacted(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return redactText(message, this.deps.pipeline().secretValues);
  }
}

/** Sources with the same key share a check: those on one git repository. */
const repoKey = (s: Pollable): string => (s.kind === 'git' ? `git ${s.url}` : `http ${s.name}`);
