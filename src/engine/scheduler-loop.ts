import type { Logger } from 'pino';
import { decide } from '../core/scheduler/index.js';
import type { SchedulerPort } from '../store/ports.js';
import type { MemorySnapshot } from './scheduler-state.js';
import { SerialLoop } from './serial-loop.js';

export interface SchedulerLoopDeps {
  readonly store: SchedulerPort;
  readonly snapshot: MemorySnapshot;
  readonly now: () => number;
  readonly logger: Logger;
  /** Called after each committed batch: new builds may be claimable, cancels to carry out. */
  readonly onApplied: (result: { queued: number; cancelRequested: readonly number[] }) => void;
}

const BATCH = 500;

/**
 * Drains the inbox: each event is decided against the in-memory snapshot and its decisions are
 * committed in one transaction before the next event is read — so the snapshot never holds
 * anything the database doesn't. Quiet periods end through a timer that re-arms itself.
 */
export class SchedulerLoop {
  private readonly loop: SerialLoop;
  private settleTimer: NodeJS.Timeout | null = null;
  private nextSettleAt: number | null = null;

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
    await store.takeDueSettles(now());
    for (;;) {
      const events = await store.pendingEvents(BATCH);
      if (events.length === 0) break;
      let queued = 0;
      const cancels: number[] = [];
      for (const event of events) {
        const t = now();
        const decisions = decide(snapshot, event, t);
        const applied = await store.applyDecisions(event, decisions, t);
        snapshot.applied(applied, decisions);
        queued += applied.queued.length;
        cancels.push(...applied.cancelRequested);
        for (const d of decisions) if (d.kind === 'defer') this.settleAt(d.until);
      }
      this.deps.onApplied({ queued, cancelRequested: cancels });
      if (events.length < BATCH) break;
    }
  }
}
