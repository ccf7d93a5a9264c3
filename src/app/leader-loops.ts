import type { Logger } from 'pino';
import type { Bus } from '../bus/port.js';
import type { Pipeline } from '../core/pipeline.js';
import { OutboxRelay } from '../relay/outbox-relay.js';
import type { Runner } from '../runner/port.js';
import { SchedulerLoop } from '../scheduler/scheduler-loop.js';
import { MemorySnapshot } from '../scheduler/scheduler-state.js';
import type { VersionFacts } from '../scheduler/version-facts.js';
import type { SchedulerPort, SchedulerState } from '../store/ports.js';
import type { EngineStore } from './engine.js';

export interface LeaderLoopsDeps {
  readonly store: EngineStore;
  readonly bus: Pick<Bus, 'publish'>;
  readonly pipeline: Pipeline;
  /** The scheduler state as the database has it now (loaded by the caller, fresh). */
  readonly state: SchedulerState;
  /** The highest outbox id not to relay again. */
  readonly relayedUpTo: number;
  readonly runner: Pick<Runner, 'wake' | 'cancelRunning'>;
  readonly now: () => number;
  readonly logger: Logger;
  readonly facts?: VersionFacts;
  /** The scheduler asked to kill running builds (`cancel_running`) this runner does not run. */
  readonly cancelElsewhere?: (id: number, reason: string) => void;
  /** Builds of change requests that were closed (queued and running): cancel each. */
  readonly closeRequests?: (ids: readonly number[]) => void;
}

/**
 * What only the leader runs: the scheduler loop over its in-memory snapshot, and the outbox
 * relay. Made fresh from the database each time a replica becomes the leader (the embedded server
 * is the leader from start to stop), stopped when it stops being one.
 */
export class LeaderLoops {
  readonly snapshot: MemorySnapshot;
  readonly scheduler: SchedulerLoop;
  readonly relay: OutboxRelay;

  constructor(deps: LeaderLoopsDeps) {
    const { store, logger, runner } = deps;
    this.snapshot = new MemorySnapshot(deps.pipeline, deps.state);
    this.relay = new OutboxRelay({
      outbox: store.outbox,
      bus: deps.bus,
      startAfter: deps.relayedUpTo,
      logger,
    });
    const scheduler: SchedulerPort = store.scheduler;
    this.scheduler = new SchedulerLoop({
      store: scheduler,
      snapshot: this.snapshot,
      now: deps.now,
      logger,
      ...(deps.facts ? { facts: deps.facts } : {}),
      onApplied: ({ queued, cancelRequested, requestClosed }) => {
        const reason = 'cancelled: a newer input set arrived (cancel_running)';
        for (const id of cancelRequested)
          if (!runner.cancelRunning(id, reason)) deps.cancelElsewhere?.(id, reason);
        if (requestClosed !== undefined && requestClosed.length > 0)
          deps.closeRequests?.(requestClosed);
        this.relay.wake();
        if (queued > 0) runner.wake();
      },
    });
    for (const s of deps.state.pendingSettles) this.scheduler.settleAt(s.dueAt);
  }

  /** Looks for work: pending events, unrelayed outbox rows. */
  wake(): void {
    this.scheduler.wake();
    this.relay.wake();
  }

  async idle(): Promise<void> {
    await this.scheduler.idle();
    await this.relay.idle();
  }

  /** Finishes the batch in hand, relays what is committed, then nothing more. Safe twice. */
  async stop(): Promise<void> {
    await this.scheduler.stop();
    await this.relay.stop();
  }
}
