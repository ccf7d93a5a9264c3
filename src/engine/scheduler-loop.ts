import type { Logger } from 'pino';
import type { SchedulerEvent } from '../core/event.js';
import { decide, type Decision } from '../core/scheduler/index.js';
import type { AppliedDecisions, SchedulerPort } from '../store/ports.js';
import type { MemorySnapshot } from './scheduler-state.js';
import { SerialLoop } from './serial-loop.js';

interface GroupItem {
  readonly event: SchedulerEvent;
  readonly decisions: readonly Decision[];
  readonly now: number;
}

/** Optional store capability: several events' decisions in one transaction, in order. */
export interface GroupCommitPort {
  applyDecisionsMany(items: readonly GroupItem[]): Promise<AppliedDecisions[]>;
}

export interface SchedulerLoopDeps {
  readonly store: SchedulerPort & Partial<GroupCommitPort>;
  readonly snapshot: MemorySnapshot;
  readonly now: () => number;
  readonly logger: Logger;
  /** Called after each committed batch: new builds may be claimable, cancels to carry out. */
  readonly onApplied: (result: { queued: number; cancelRequested: readonly number[] }) => void;
}

const BATCH = 500;
/** Longest stretch of scheduling work between two turns of the event loop. */
const YIELD_EVERY_MS = 5;

/** Decisions that only add to the log: they change no head, build or settle, nor the snapshot. */
const logOnly = (d: Decision) => d.kind === 'record-duplicate' || d.kind === 'note';

/**
 * Drains the inbox: each event is decided against the in-memory snapshot and its decisions are
 * committed in one transaction before the next event is read — so the snapshot never holds
 * anything the database doesn't. Consecutive events that only add to the log (duplicates, notes)
 * leave the snapshot as it is, so they share one transaction when the store offers it.
 * Quiet periods end through a timer that re-arms itself.
 */
export class SchedulerLoop {
  private readonly loop: SerialLoop;
  private settleTimer: NodeJS.Timeout | null = null;
  private nextSettleAt: number | null = null;
  /** Quiet periods this loop deferred, job → due time (mirrors `pending_settles`). */
  private readonly deferred = new Map<string, number>();

  constructor(private readonly deps: SchedulerLoopDeps) {
    this.loop = new SerialLoop(
      () => this.drain(),
      (err) => deps.logger.error({ err }, 'scheduler loop failed'),
    );
  }

  wake(): void {
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

  idle(): Promise<void> {
    return this.loop.idle();
  }

  async stop(): Promise<void> {
    if (this.settleTimer) clearTimeout(this.settleTimer);
    await this.loop.stop();
  }

  private async drain(): Promise<void> {
    const { store, snapshot, now } = this.deps;
    const start = now();
    await store.takeDueSettles(start);
    for (const [job, due] of this.deferred) if (due <= start) this.deferred.delete(job);
    for (;;) {
      const events = await store.pendingEvents(BATCH);
      if (events.length === 0) break;
      let queued = 0;
      const cancels: number[] = [];
      const many = store.applyDecisionsMany?.bind(store);
      let group: GroupItem[] = [];
      const flush = async () => {
        if (!many || group.length === 0) return;
        const items = group;
        group = [];
        const results = await many(items);
        results.forEach((a, i) => snapshot.applied(a, items[i]?.decisions));
      };
      let sliceStart = Date.now();
      for (const event of events) {
        // Better-sqlite3 resolves in microtasks, so a long drain would never let a webhook or API
        // request in: give the event loop a turn every few milliseconds of work.
        if (Date.now() - sliceStart >= YIELD_EVERY_MS) {
          await flush();
          await new Promise<void>((resolve) => setImmediate(resolve));
          sliceStart = Date.now();
        }
        const t = now();
        const decisions = decide(snapshot, event, t);
        if (many && decisions.every(logOnly)) {
          group.push({ event, decisions, now: t });
          continue;
        }
        await flush();
        const applied = await store.applyDecisions(event, decisions, t);
        snapshot.applied(applied, decisions);
        queued += applied.queued.length;
        cancels.push(...applied.cancelRequested);
        for (const d of decisions) {
          if (d.kind !== 'defer') continue;
          this.deferred.set(d.job, d.until);
          this.settleAt(d.until);
        }
      }
      await flush();
      this.deps.onApplied({ queued, cancelRequested: cancels });
      if (events.length < BATCH) break;
    }
    // A later event pushes a quiet period out past the armed timer: when that timer finds nothing
    // due, the next pending settle still needs one.
    const next = Math.min(...this.deferred.values());
    if (Number.isFinite(next)) this.settleAt(next);
  }
}
