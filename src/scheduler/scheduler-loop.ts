import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { announcedGitVersions, type Ancestry, type SchedulerEvent } from '../core/event.js';
import type { JobName } from '../core/pipeline.js';
import { ancestryNote, decide, type BuildRef } from '../core/scheduler/index.js';
import type { SchedulerPort } from '../store/ports.js';
import type { MemorySnapshot } from './scheduler-state.js';
import { SerialLoop } from '../async/serial-loop.js';
import { askAncestry, headToCompare, type VersionFacts } from './version-facts.js';
import { isStoreUnavailable } from '../store/ports/unavailable.js';

export interface SchedulerLoopDeps {
  readonly store: SchedulerPort;
  readonly snapshot: MemorySnapshot;
  readonly now: () => number;
  readonly logger: Logger;
  /**
   * Asks the git mirror how a version relates to the current head before deciding it (the
   * `ancestor` rule); without it every differing version is decided as new.
   */
  readonly facts?: VersionFacts;
  /** Called after each committed batch: new builds may be claimable, cancels to carry out. */
  readonly onApplied: (result: {
    queued: number;
    cancelRequested: readonly number[];
    requestClosed?: readonly number[];
  }) => void;
}

const BATCH = 500;
/**
 * Longest stretch of scheduling work in one transaction, and so between two turns of the event
 * loop (better-sqlite3 resolves in microtasks: a long drain would never let a webhook in). A
 * request that arrives during a slice waits for it: with 5 ms, plus a scavenge, the ingest p99
 * at 500 req/s was 8–18× bare fastify's (bench/RESULTS.md, "Ingest"); 2 ms slices still hold
 * ~15 events each, so the commits stay batched.
 */
const SLICE_MS = 2;
/**
 * Events arriving in a steady stream (the last drain ended less than STREAM_MS ago) are decided
 * after a wait of GATHER_MS, a few per transaction instead of one each: a decision's commit is
 * most of its cost, and consecutive events share most of the pages it writes. At 500 generic
 * webhooks/s this took 3 events per transaction instead of 1 and the event loop from 60–68 % busy
 * to 48–58 % (bench/RESULTS.md, "Ingest"). An event after a quiet spell is decided at once.
 *
 * A wait that gathered no second event was only latency: a client that sends its next event
 * when the last one is decided looks like a stream, and would wait every time (bench/scheduler
 * (a): 0.9 → 5.2 ms a decision). After such a miss the next 2^(3 + misses in a row) streaming
 * drains (16 … 1,024) go without the wait, and the next wait comes only once an event has
 * arrived while a drain ran: a client that waits for each decision never sends one then, and
 * retrying it every 16, 32, … drains held 6–7 of bench/scheduler (a)'s 2,000 events 4 ms each.
 * A wake counts only if the drain after it found an event (a replica's own inbox signal comes
 * back to it). A wait that gathers two or more ends the back-off.
 */
const STREAM_MS = 10;
const GATHER_MS = 4;
const MAX_MISSES = 7;
/** After a failed run (a commit that failed, the database busy), the next try. */
const RETRY_MS = 1000;

/**
 * Drains the inbox: each event is decided against the in-memory snapshot, which sees the
 * decisions of the events before it. The events of one slice (up to SLICE_MS of work) commit in
 * one transaction — each event's decisions stay atomic — and the slice's effects (builds to
 * start, cancels, quiet-period timers) are carried out only after that commit. A slice that fails
 * to commit resets the snapshot from the database; its events stay in the inbox for the next run.
 * Quiet periods end through a timer that re-arms itself.
 */
export class SchedulerLoop {
  private readonly loop: SerialLoop;
  private settleTimer: NodeJS.Timeout | null = null;
  private retryTimer: NodeJS.Timeout | null = null;
  private nextSettleAt: number | null = null;
  /** Quiet periods this loop deferred, job → due time (mirrors `pending_settles`). */
  private readonly deferred = new Map<string, number>();
  /** Answers about events not decided yet, event id → ancestry (relative to `ancestry.head`). */
  private readonly answers = new Map<number, Ancestry>();
  /**
   * Events shown not to be ancestors of the head while their commit was still being fetched,
   * event id → that head: decided as new at once (no ancestry yet); the exact relation is
   * recorded once the fetch ends (`recordLater`).
   */
  private readonly notAncestor = new Map<number, string>();
  /** Those recordings still running (`idle` and `stop` wait for them; each is time-bounded). */
  private readonly recording = new Set<Promise<void>>();
  /** When the last drain ended (`performance.now()`), for GATHER_MS. */
  private lastDrainEnd = -Infinity;
  /** Gathering waits in a row that found one event only, and streaming drains left to skip. */
  private gatherMisses = 0;
  private skipGathering = 0;
  private draining = false;
  /** `wake()` was called while a drain ran: the next drain says whether an event came with it. */
  private wokenWhileDraining = false;
  /** An event arrived while a drain ran, since the last wait that gathered one event only. */
  private arrivedWhileDraining = false;

  constructor(private readonly deps: SchedulerLoopDeps) {
    this.loop = new SerialLoop(
      () => this.drain(),
      (err) => {
        // The events stay in the inbox: try again soon rather than on the next event only.
        if (isStoreUnavailable(err))
          deps.logger.warn(
            { reason: err.message, retryInMs: RETRY_MS },
            'scheduler: the database is unavailable; events stay in the inbox',
          );
        else deps.logger.error({ err, retryInMs: RETRY_MS }, 'scheduler loop failed');
        if (this.retryTimer) return;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = null;
          this.loop.wake();
        }, RETRY_MS);
        this.retryTimer.unref();
      },
    );
  }

  /** New events are in the inbox. */
  wake(): void {
    if (this.draining) this.wokenWhileDraining = true;
    this.loop.wake();
  }

  /** Re-arm the quiet-period timer for a settle due at `dueAt`. */
  settleAt(dueAt: number): void {
    if (this.nextSettleAt !== null && this.nextSettleAt <= dueAt) return;
    if (this.settleTimer) clearTimeout(this.settleTimer);
    this.nextSettleAt = dueAt;
    this.settleTimer = setTimeout(
      () => {
        this.settleTimer = null;
        this.nextSettleAt = null;
        this.loop.wake();
      },
      Math.max(0, dueAt - this.deps.now()),
    );
    this.settleTimer.unref();
  }

  async idle(): Promise<void> {
    await this.loop.idle();
    await Promise.all([...this.recording]);
  }

  async stop(): Promise<void> {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.loop.stop();
    await Promise.all([...this.recording]);
  }

  private async drain(): Promise<void> {
    this.draining = true;
    // A wake is not always an event: a replica's own inbox signal comes back to it too.
    const afterWake = this.wokenWhileDraining;
    this.wokenWhileDraining = false;
    let gathered = false;
    if (performance.now() - this.lastDrainEnd < STREAM_MS) {
      if (this.skipGathering > 0) this.skipGathering--;
      else if (this.gatherMisses === 0 || this.arrivedWhileDraining) {
        await sleep(GATHER_MS);
        gathered = true;
      }
    }
    try {
      const decided = await this.drainEvents();
      if (afterWake && decided > 0) this.arrivedWhileDraining = true;
      if (gathered && decided > 1) this.gatherMisses = 0;
      else if (gathered) {
        this.gatherMisses = Math.min(this.gatherMisses + 1, MAX_MISSES);
        this.skipGathering = 2 ** (3 + this.gatherMisses);
        this.arrivedWhileDraining = false;
      }
    } finally {
      this.lastDrainEnd = performance.now();
      this.draining = false;
    }
  }

  /** Decides what the inbox holds; says how many events that was. */
  private async drainEvents(): Promise<number> {
    const { store, now } = this.deps;
    const start = now();
    await store.takeDueSettles(start);
    for (const [job, due] of this.deferred) if (due <= start) this.deferred.delete(job);
    let decided = 0;
    for (;;) {
      const events = await store.pendingEvents(BATCH);
      decided += events.length;
      this.announceVersions(events);
      for (let at = 0; at < events.length;) {
        const slice = await this.applySlice(events, at);
        at = slice.next;
        // After the commit: a logged build exists.
        for (const b of slice.queued)
          this.deps.logger.info({ build: b.id, job: b.job }, 'build queued');
        for (const [job, until] of slice.defers) {
          this.deferred.set(job, until);
          this.settleAt(until);
        }
        this.deps.onApplied({
          queued: slice.queued.length,
          cancelRequested: slice.cancelRequested,
          requestClosed: slice.requestClosed,
        });
        await nextTurn();
      }
      if (events.length < BATCH) break;
    }
    // A later event pushes a quiet period out past the armed timer: when that timer finds nothing
    // due, the next pending settle still needs one.
    const next = Math.min(...this.deferred.values());
    if (Number.isFinite(next)) this.settleAt(next);
    return decided;
  }

  /**
   * The event as `decide()` should see it: with the mirror's answer about the current head, when
   * one is needed and known. `undefined` when a question is still open (ask it outside the
   * transaction first: git may take a while and the database must not wait for it).
   */
  private withFacts(event: SchedulerEvent): SchedulerEvent | undefined {
    if (event.kind !== 'source' || !this.deps.facts) return event;
    const head = headToCompare(this.deps.snapshot, event);
    if (head === null) return event;
    const answer = this.answers.get(event.id);
    if (answer?.head === head) return { ...event, ancestry: answer };
    if (this.notAncestor.get(event.id) === head) return event;
    const def = this.deps.snapshot.pipeline.sources.get(event.source);
    const known = def?.kind === 'git' ? this.deps.facts.known?.(def, event.version, head) : null;
    return known ? { ...event, ancestry: known } : undefined;
  }

  /**
   * Hands the git versions of `events` to the mirror's start-early rounds before any is asked
   * about; the mirror ignores those a round has or has answered. Usually that is all of them
   * (every accepted event is prefetched), but not a backlog the rounds never saw or no longer
   * remember: the inbox after a restart, or more versions than the mirror's memory of missing
   * commits holds (a storm of pushes of commits the remote lacks). Asked one by one, each of
   * those cost a fetch: ~9 events/s, a held-back backlog of 44,000 GitHub pushes was still
   * draining after ten minutes (bench/RESULTS.md, "Ingest"); handed over together, one round
   * answers the batch.
   */
  private announceVersions(events: readonly SchedulerEvent[]): void {
    const { facts, snapshot } = this.deps;
    if (!facts?.prefetch) return;
    for (const { source, version } of announcedGitVersions(snapshot.pipeline, events))
      facts.prefetch(source, version);
  }

  /** Asks the open question of `event` (against the snapshot's head now), outside any transaction. */
  private async ask(event: SchedulerEvent): Promise<void> {
    const { facts, snapshot } = this.deps;
    if (event.kind !== 'source' || !facts) return;
    const head = headToCompare(snapshot, event);
    const def = snapshot.pipeline.sources.get(event.source);
    if (head === null || def?.kind !== 'git') return;
    // The push's commit is usually still being fetched (start early): shown not to be an
    // ancestor, it is decided now and its build's checkout joins that fetch.
    const early = await facts.notAncestorYet?.(def, event.version, head).catch(() => false);
    if (early === true) this.notAncestor.set(event.id, head);
    else this.answers.set(event.id, await askAncestry(facts, def, event.version, head));
  }

  /**
   * After deciding `event` without its ancestry (shown not to be an ancestor of `head`): asks
   * the exact relation once the commit is fetched and records it with the event, as deciding
   * with it would have (a force push is said so). Never rejects.
   */
  private recordLater(event: SchedulerEvent, head: string): void {
    const { facts, store, logger, snapshot } = this.deps;
    const def = event.kind === 'source' ? snapshot.pipeline.sources.get(event.source) : undefined;
    if (!facts || event.kind !== 'source' || def?.kind !== 'git') return;
    const work = (async () => {
      const ancestry = await askAncestry(facts, def, event.version, head);
      if (ancestry.relation === 'ancestor')
        // Not expected (see `VersionFacts.notAncestorYet`): said, not hidden.
        logger.warn(
          { event: event.id, version: event.version, head },
          'decided as new, but an ancestor of the head',
        );
      const note = ancestryNote(event.source, ancestry);
      await store.recordAncestry?.(event.id, ancestry, note);
    })()
      .catch((err: unknown) =>
        logger.error(
          { err, event: event.id },
          'recording the ancestry of a decided version failed',
        ),
      )
      .finally(() => this.recording.delete(work));
    this.recording.add(work);
  }

  /** Decides and writes `events` from `from` on, in one transaction, for up to SLICE_MS. */
  private async applySlice(events: readonly SchedulerEvent[], from: number) {
    const { store, snapshot, now } = this.deps;
    if (from < events.length && this.withFacts(events[from] as SchedulerEvent) === undefined) {
      await this.ask(events[from] as SchedulerEvent);
      // The answer arrives in the I/O callback of the git run (or of the round that settled
      // hundreds of versions): the slice gets a turn of its own instead of extending that one.
      await nextTurn();
    }
    const sliceStart = Date.now();
    const cancelRequested: number[] = [];
    const requestClosed: number[] = [];
    const defers = new Map<JobName, number>();
    const queued: BuildRef[] = [];
    const later: Array<[SchedulerEvent, string]> = [];
    let next = from;
    try {
      await store.batchDecisions(async (writer) => {
        while (next < events.length) {
          const raw = events[next] as SchedulerEvent;
          // An event whose question is open (the head moved in this slice) ends the slice: it
          // is asked and decided in the next one, against the head the slice left. The first
          // event was asked just above, so it never ends a slice (no loop, whatever happened).
          const event = this.withFacts(raw) ?? (next === from ? raw : undefined);
          if (event === undefined) break;
          this.answers.delete(raw.id);
          const shownNew = this.notAncestor.get(raw.id);
          this.notAncestor.delete(raw.id);
          if (shownNew !== undefined && event.kind === 'source' && event.ancestry === null)
            later.push([event, shownNew]);
          const t = now();
          const decisions = decide(snapshot, event, t);
          const applied = await writer.applyDecisions(event, decisions, t);
          snapshot.applied(applied, decisions);
          next += 1;
          queued.push(...applied.queued);
          cancelRequested.push(...applied.cancelRequested);
          requestClosed.push(...(applied.requestClosed ?? []));
          for (const d of decisions) if (d.kind === 'defer') defers.set(d.job, d.until);
          if (Date.now() - sliceStart >= SLICE_MS) break;
        }
      });
    } catch (err) {
      snapshot.reset(await store.loadSchedulerState());
      throw err;
    }
    // After the commit: the event row and its decisions exist.
    for (const [event, head] of later) this.recordLater(event, head);
    return { next, queued, cancelRequested, requestClosed, defers };
  }
}

/**
 * Resolves after the event loop has polled for I/O at least once. One `setImmediate` is not
 * enough: called from an I/O callback (a git run ending, a socket read) it runs in the check
 * phase of the same turn, right after the poll phase, and two slices would run back to back
 * with the webhooks that arrived meanwhile still unread.
 */
function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(() => setImmediate(resolve)));
}
