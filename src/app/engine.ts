import type { Logger } from 'pino';
import type { Build } from '../core/build.js';
import type { Pipeline } from '../core/pipeline.js';
import type { Bus } from '../bus/port.js';
import type { Executor } from '../executor/port.js';
import type { Commands, TriggerRequest, TriggerResult } from '../server/commands.js';
import type { AppendedEvent, NewEvent, Store } from '../store/ports.js';

/** The ports the engine uses; retention, reporters, access and the server's reads are wired beside it. */
export type EngineStore = Pick<
  Store,
  'inbox' | 'scheduler' | 'queue' | 'sources' | 'read' | 'outbox'
>;
import { closingLine } from '../core/build-ending.js';
import { OutboxRelay } from '../relay/outbox-relay.js';
import { BuildRunner, type AfterRun } from '../runner/local/build-runner.js';
import { CombinedRunner } from '../runner/combined-runner.js';
import type { Runner, RunnerEvents } from '../runner/port.js';
import { SchedulerLoop } from '../scheduler/scheduler-loop.js';
import { MemorySnapshot } from '../scheduler/scheduler-state.js';
import type { VersionFacts } from '../scheduler/version-facts.js';

export interface EngineOptions {
  readonly store: EngineStore;
  readonly bus: Bus;
  readonly executor: Executor;
  readonly pipeline: Pipeline;
  readonly logger: Logger;
  /** Local build slots (the embedded deployment's workers). */
  readonly slots: number;
  /** A build lost by a restart is re-queued while its attempt number is below this. */
  readonly maxAttempts?: number;
  readonly now?: () => number;
  readonly worker?: string;
  /** Publishes a passing build's outputs (`publish:`) before its result is recorded. */
  readonly afterRun?: AfterRun;
  /** The git mirror's answers the scheduler asks before deciding (`ancestor` rule). */
  readonly facts?: VersionFacts;
  /** Values of jobs' `secrets:` names; default the process environment. */
  readonly secret?: (name: string) => string | undefined;
  /**
   * What runs queued builds, made with the events the engine must hear. Default: `slots` local
   * slots running `executor` (`runner/local/`); remote agents plug in here.
   */
  readonly runner?: (events: RunnerEvents) => Runner;
  /**
   * Build agents beside the local slots (`runner/remote/`), made with the engine's events and its
   * current pipeline; absent: local slots only.
   */
  readonly agents?: (events: RunnerEvents, pipeline: () => Pipeline) => Runner;
}

export type { TriggerResult } from '../server/commands.js';

/**
 * The running system: inbox → scheduler → queue → runner → outbox relay. Every state change goes
 * through the store first; the in-memory parts only cache what was committed.
 */
export class Engine implements Commands {
  private readonly scheduler: SchedulerLoop;
  private readonly runner: Runner;
  private readonly relay: OutboxRelay;
  private readonly now: () => number;
  private current: Pipeline;

  private constructor(
    private readonly opts: EngineOptions,
    private readonly snapshot: MemorySnapshot,
    relayedUpTo: number,
  ) {
    this.now = opts.now ?? Date.now;
    this.current = opts.pipeline;
    const { store, logger, bus } = opts;
    this.relay = new OutboxRelay({ outbox: store.outbox, bus, startAfter: relayedUpTo, logger });
    const events: RunnerEvents = {
      onStarted: (b) => {
        snapshot.buildChanged(b);
        this.relay.wake();
      },
      onLog: (buildId, bytes) => bus.publish('log', { buildId, bytes }),
      onFinished: (b) => {
        snapshot.buildChanged(b);
        this.relay.wake();
        this.scheduler.wake();
        // A lost build re-queued by an expired lease may be any runner's to take.
        if (b.state === 'queued') this.runner.wake();
      },
    };
    const local =
      opts.runner?.(events) ??
      new BuildRunner({
        ...events,
        queue: store.queue,
        executor: opts.executor,
        pipeline: () => this.current,
        slots: opts.slots,
        worker: opts.worker ?? 'local',
        now: this.now,
        logger,
        secret: opts.secret ?? ((name) => process.env[name]),
        ...(opts.afterRun ? { afterRun: opts.afterRun } : {}),
      });
    this.runner = opts.agents
      ? new CombinedRunner([local, opts.agents(events, () => this.current)])
      : local;
    this.scheduler = new SchedulerLoop({
      store: store.scheduler,
      snapshot,
      now: this.now,
      logger,
      ...(opts.facts ? { facts: opts.facts } : {}),
      onApplied: ({ queued, cancelRequested }) => {
        for (const id of cancelRequested)
          this.runner.cancelRunning(id, 'cancelled: a newer input set arrived (cancel_running)');
        this.relay.wake();
        if (queued > 0) this.runner.wake();
      },
    });
  }

  /** Recovers builds a previous process left running, then starts scheduling and running. */
  static async start(opts: EngineOptions): Promise<Engine> {
    const { store } = opts;
    const now = (opts.now ?? Date.now)();
    // Read before recovery: the lost builds' `finished` and the retries' `queued` must be relayed.
    const relayedUpTo = await store.read.lastOutboxId();
    const recovered = await store.queue.recoverLostBuilds(now, opts.maxAttempts ?? 2);
    for (const b of recovered.lost) {
      const reaped = (await opts.executor.reapLost?.(b.id)) ?? 0;
      if (reaped > 0)
        opts.logger.warn(
          { build: b.id, processes: reaped },
          'killed processes a lost build left running',
        );
    }
    for (const b of recovered.lost) {
      // Before the server listens: no log follower can see the build end without this line.
      await opts.executor.appendSystemLine?.(b.id, closingLine(b.state, b.reason));
      opts.logger.warn(
        { build: b.id, job: b.job },
        'build was running when the server stopped: error (lost)',
      );
    }
    const state = await store.scheduler.loadSchedulerState();
    const engine = new Engine(opts, new MemorySnapshot(opts.pipeline, state), relayedUpTo);
    await engine.setPipeline(opts.pipeline);
    for (const s of state.pendingSettles) engine.scheduler.settleAt(s.dueAt);
    engine.relay.wake();
    engine.runner.wake();
    return engine;
  }

  get pipeline(): Pipeline {
    return this.current;
  }

  get busySlots(): number {
    return this.runner.busySlots;
  }

  /** Local build slots (`--slots`). */
  get slots(): number {
    return this.opts.slots;
  }

  /** Writes the event to the inbox (durable before this resolves), then schedules asynchronously. */
  async ingest(event: NewEvent): Promise<AppendedEvent> {
    const appended = await this.opts.store.inbox.appendEvent(event);
    if (!appended.redelivery) this.scheduler.wake();
    return appended;
  }

  async ingestMany(events: readonly NewEvent[]): Promise<AppendedEvent[]> {
    const appended = await this.opts.store.inbox.appendEvents(events);
    this.scheduler.wake();
    return appended;
  }

  /**
   * Runs a job with the current input versions, or with `pins` fixed to versions the store has
   * seen (the caller checks them); without `force`, identical inputs aren't rebuilt.
   */
  async trigger(job: string, opts: TriggerRequest): Promise<TriggerResult> {
    const { id } = await this.ingest({
      kind: 'trigger',
      job,
      force: opts.force,
      by: opts.by,
      pins: opts.pins ?? [],
      rebuildOf: opts.rebuildOf ?? null,
      receivedAt: this.now(),
    });
    await this.scheduler.idle();
    const decisions = await this.opts.store.read.listDecisions({ eventId: id, limit: 50 });
    const queuedId = decisions.find((d) => d.buildId !== null)?.buildId ?? null;
    const build = queuedId === null ? null : await this.opts.store.read.getBuild(queuedId);
    return { eventId: id, build, decisions };
  }

  /** Cancels a queued or running build; a finished one is returned unchanged. */
  async cancel(id: number, by: string | null): Promise<Build | null> {
    const reason = `cancelled${by ? ` by ${by}` : ''}`;
    if (this.runner.cancelRunning(id, reason)) return this.opts.store.read.getBuild(id);
    const build = await this.opts.store.queue.cancelQueuedBuild(id, reason, this.now());
    if (build) this.snapshot.buildChanged(build);
    // Cancelled while queued: its log (empty until now) says so, like every build that ended early.
    if (build?.state === 'cancelled' && build.reason === reason && build.startedAt === null)
      await this.opts.executor.appendSystemLine?.(id, closingLine(build.state, build.reason));
    this.relay.wake();
    return build;
  }

  /** Retention deleted these finished builds: the scheduler forgets their fingerprints. */
  forgetBuilds(builds: ReadonlyArray<{ readonly id: number; readonly fingerprint: string }>): void {
    this.snapshot.forget(builds);
  }

  /** Swaps in a new pipeline; jobs whose definition changed are scheduled once (reconcile). */
  async setPipeline(pipeline: Pipeline): Promise<void> {
    this.current = pipeline;
    this.snapshot.setPipeline(pipeline);
    await this.opts.store.sources.syncSources(
      [...pipeline.sources.values()].map((s) => ({
        name: s.name,
        kind: s.kind,
        url: 'url' in s ? s.url : null,
      })),
    );
    await this.ingest({ kind: 'reconcile', receivedAt: this.now() });
  }

  /** Resolves once the inbox is drained, nothing runs and the outbox is relayed (tests, `--once`). */
  async settled(): Promise<void> {
    for (let i = 0; i < 10_000; i++) {
      await this.scheduler.idle();
      await this.runner.idle();
      await this.relay.idle();
      const pending = await this.opts.store.scheduler.pendingEvents(1);
      const queued = await this.opts.store.read.listBuilds({ state: 'queued', limit: 1 });
      if (
        pending.length === 0 &&
        (queued.length === 0 || this.opts.slots === 0) &&
        this.runner.busySlots === 0
      )
        return;
      this.scheduler.wake();
      this.runner.wake();
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('engine did not settle');
  }

  /** Waits for the scheduler to decide everything in the inbox (builds may still run). */
  async decided(): Promise<void> {
    await this.scheduler.idle();
    await this.relay.idle();
  }

  /**
   * Stops scheduling and running. Builds still running are killed and re-queued (each the same
   * build, one `queued` event, a closing line in its log) so the next start runs them again;
   * with `abandon` they are left `running` as a crash would leave them (tests simulate one), for
   * the next start's recovery. Outbox rows written here are relayed before this resolves.
   */
  async stop(opts: { abandonRunning?: boolean } = {}): Promise<void> {
    await this.scheduler.stop();
    await this.runner.stop(opts.abandonRunning ? 'abandon' : 'requeue');
    await this.relay.stop();
  }
}
