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
import { EmbeddedLeadership } from '../leader/embedded-leadership.js';
import type { Leadership } from '../leader/port.js';
import { BuildRunner, type AfterRun, type SlotLeases } from '../runner/local/build-runner.js';
import type { TrustLookup } from '../runner/build-trust.js';
import { CombinedRunner } from '../runner/combined-runner.js';
import type { Runner, RunnerEvents } from '../runner/port.js';
import type { VersionFacts } from '../scheduler/version-facts.js';
import { LeaderLoops } from './leader-loops.js';
import { recoverLostBuilds } from './recover-lost-builds.js';
import { ReplicaLinks } from './replica-links.js';

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
  /** Change requests and approvals: decides which builds are untrusted (fork safety). */
  readonly requests?: TrustLookup;
  /**
   * Build agents beside the local slots (`runner/remote/`), made with the engine's events and its
   * current pipeline; absent: local slots only.
   */
  readonly agents?: (events: RunnerEvents, pipeline: () => Pipeline) => Runner;
  /** Several server replicas share the database (scale-out); absent: the embedded deployment. */
  readonly replication?: Replication;
}

export interface Replication {
  /** Who leads: the scheduler loop and the outbox relay run only while this replica does. */
  readonly leadership: Leadership;
  /** How often the database is checked for work no wake-up announced (default 2 s). */
  readonly pollMs?: number;
  /**
   * After this replica started (`true`) or stopped (`false`) leading: the composition root starts
   * or stops the rest of what only the leader runs (reports, retention, fallback polls). Must
   * not throw.
   */
  readonly onLeading?: (leading: boolean) => Promise<void>;
  /**
   * Local slots claim under a lease renewed while the build runs, so a replica that dies or
   * freezes loses its builds to the lease sweep (any replica's) instead of holding them until it
   * restarts. Absent: no lease; only this replica's restart recovers its builds.
   */
  readonly leases?: SlotLeases;
}

export type { TriggerResult } from '../server/commands.js';

/** How long a trigger on a replica that does not lead waits for the leader's decision. */
const DECIDED_ELSEWHERE_MS = 15_000;

/**
 * The running system: inbox → scheduler → queue → runner → outbox relay. Every state change goes
 * through the store first; the in-memory parts only cache what was committed.
 *
 * The scheduler and the relay ({@link LeaderLoops}) run only while this server leads; the
 * embedded server leads from start to stop. With `replication`, each replica runs its runner,
 * takes events and commands, and tells the others over the bus ({@link ReplicaLinks}); whichever
 * leads loads the scheduler's snapshot fresh from the database when it takes over.
 */
export class Engine implements Commands {
  private readonly runner: Runner;
  private readonly now: () => number;
  private readonly leadership: Leadership;
  private readonly links: ReplicaLinks | null;
  private current: Pipeline;
  private loops: LeaderLoops | null = null;
  /** Leadership changes, one at a time, in order. */
  private transitions: Promise<void> = Promise.resolve();
  /** The relay's start while `start()` runs: before recovery, so lost builds are relayed. */
  private startRelayAfter: number | null;
  private leadError: unknown = null;
  private stopping = false;

  private constructor(
    private readonly opts: EngineOptions,
    relayedUpTo: number,
  ) {
    this.now = opts.now ?? Date.now;
    this.current = opts.pipeline;
    this.startRelayAfter = relayedUpTo;
    this.leadership = opts.replication?.leadership ?? new EmbeddedLeadership();
    const { store, logger, bus } = opts;
    const events: RunnerEvents = {
      onStarted: (b) => {
        this.loops?.snapshot.buildChanged(b);
        this.outboxCommitted();
      },
      onLog: (buildId, bytes) => bus.publish('log', { buildId, bytes }),
      onFinished: (b) => {
        this.loops?.snapshot.buildChanged(b);
        this.outboxCommitted();
        this.inboxCommitted();
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
        ...(opts.requests ? { requests: opts.requests } : {}),
        ...(opts.afterRun ? { afterRun: opts.afterRun } : {}),
        ...(opts.replication?.leases ? { lease: opts.replication.leases } : {}),
      });
    this.runner = opts.agents
      ? new CombinedRunner([local, opts.agents(events, () => this.current)])
      : local;
    this.links = opts.replication
      ? new ReplicaLinks({
          bus,
          pollMs: opts.replication.pollMs ?? 2_000,
          leader: () => this.loops,
          runner: this.runner,
        })
      : null;
  }

  /** Recovers builds a previous process left running, then starts scheduling and running. */
  static async start(opts: EngineOptions): Promise<Engine> {
    const { store } = opts;
    const now = (opts.now ?? Date.now)();
    // Read before recovery: the lost builds' `finished` and the retries' `queued` must be relayed.
    const relayedUpTo = await store.read.lastOutboxId();
    await recoverLostBuilds(opts, now);
    const engine = new Engine(opts, relayedUpTo);
    engine.leadership.start((leading) => engine.leadershipChanged(leading));
    await engine.transitions;
    engine.startRelayAfter = null;
    if (!opts.replication && engine.loops === null) throw engine.leadError;
    await engine.setPipeline(opts.pipeline);
    engine.loops?.wake();
    engine.runner.wake();
    return engine;
  }

  get pipeline(): Pipeline {
    return this.current;
  }

  /** Whether this server runs the scheduler and the relay now. */
  get leading(): boolean {
    return this.loops !== null;
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
    if (!appended.redelivery) this.inboxCommitted();
    return appended;
  }

  async ingestMany(events: readonly NewEvent[]): Promise<AppendedEvent[]> {
    const appended = await this.opts.store.inbox.appendEvents(events);
    this.inboxCommitted();
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
    if (this.loops) await this.loops.scheduler.idle();
    else await this.decidedElsewhere(id);
    const decisions = await this.opts.store.read.listDecisions({ eventId: id, limit: 50 });
    const queuedId = decisions.find((d) => d.buildId !== null)?.buildId ?? null;
    const build = queuedId === null ? null : await this.opts.store.read.getBuild(queuedId);
    return { eventId: id, build, decisions };
  }

  /** Cancels a queued or running build; a finished one is returned unchanged. */
  async cancel(id: number, by: string | null, why?: string): Promise<Build | null> {
    const reason = why ?? `cancelled${by ? ` by ${by}` : ''}`;
    if (this.runner.cancelRunning(id, reason)) {
      // An agent's build is killed at the agent's next heartbeat, which may reach any replica:
      // they all hear of it (local slots elsewhere do not run it and ignore the signal).
      this.links?.cancelElsewhere(id, reason);
      return this.opts.store.read.getBuild(id);
    }
    const build = await this.opts.store.queue.cancelQueuedBuild(id, reason, this.now());
    if (build) this.loops?.snapshot.buildChanged(build);
    // Running on another replica: its runner kills it and records the end.
    if (build?.state === 'running') this.links?.cancelElsewhere(id, reason);
    // Cancelled while queued: its log (empty until now) says so, like every build that ended early.
    if (build?.state === 'cancelled' && build.reason === reason && build.startedAt === null)
      await this.opts.executor.appendSystemLine?.(id, closingLine(build.state, build.reason));
    this.outboxCommitted();
    return build;
  }

  /** Retention deleted these finished builds: the scheduler forgets their fingerprints. */
  forgetBuilds(builds: ReadonlyArray<{ readonly id: number; readonly fingerprint: string }>): void {
    this.loops?.snapshot.forget(builds);
  }

  /** Swaps in a new pipeline; jobs whose definition changed are scheduled once (reconcile). */
  async setPipeline(pipeline: Pipeline): Promise<void> {
    this.current = pipeline;
    this.loops?.snapshot.setPipeline(pipeline);
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
      await this.loops?.scheduler.idle();
      await this.runner.idle();
      await this.loops?.relay.idle();
      const pending = await this.opts.store.scheduler.pendingEvents(1);
      const queued = await this.opts.store.read.listBuilds({ state: 'queued', limit: 1 });
      if (
        pending.length === 0 &&
        (queued.length === 0 || this.opts.slots === 0) &&
        this.runner.busySlots === 0
      )
        return;
      this.loops?.scheduler.wake();
      this.runner.wake();
      await new Promise((r) => setTimeout(r, 5));
    }
    throw new Error('engine did not settle');
  }

  /** Waits for the scheduler to decide everything in the inbox (builds may still run). */
  async decided(): Promise<void> {
    await this.loops?.idle();
  }

  /**
   * Stops scheduling and running. Builds still running are killed and re-queued (each the same
   * build, one `queued` event, a closing line in its log) so the next start runs them again;
   * with `abandon` they are left `running` as a crash would leave them (tests simulate one), for
   * the next start's recovery. Outbox rows written here are relayed before this resolves. A
   * replica gives up the lead last.
   */
  async stop(opts: { abandonRunning?: boolean } = {}): Promise<void> {
    this.stopping = true;
    this.links?.stop();
    await this.loops?.scheduler.stop();
    await this.runner.stop(opts.abandonRunning ? 'abandon' : 'requeue');
    await this.leadership.stop();
    await this.transitions;
  }

  private leadershipChanged(leading: boolean): void {
    this.transitions = this.transitions.then(() =>
      leading ? this.becomeLeader() : this.stepDown(),
    );
  }

  /** Loads the scheduler's state fresh (another replica may have led until now) and starts. */
  private async becomeLeader(): Promise<void> {
    if (this.loops !== null || this.stopping || !this.leadership.leading) return;
    const { store, logger } = this.opts;
    let loops: LeaderLoops;
    try {
      const relayedUpTo = this.startRelayAfter ?? (await store.read.lastOutboxId());
      const state = await store.scheduler.loadSchedulerState();
      loops = new LeaderLoops({
        store,
        bus: this.opts.bus,
        pipeline: this.current,
        state,
        relayedUpTo,
        runner: this.runner,
        now: this.now,
        logger,
        ...(this.opts.facts ? { facts: this.opts.facts } : {}),
        ...(this.links ? { cancelElsewhere: this.links.cancelElsewhere } : {}),
        closeRequests: (ids) => {
          for (const id of ids)
            void this.cancel(id, null, 'cancelled: the change request was closed').catch(
              (err: unknown) =>
                logger.error({ err, build: id }, 'cancelling a closed request failed'),
            );
        },
      });
    } catch (err) {
      this.leadError = err;
      if (!this.opts.replication) return;
      logger.error({ err }, 'cannot take the lead (loading the scheduler state); retrying in 1 s');
      setTimeout(() => this.leadershipChanged(true), 1_000).unref();
      return;
    }
    this.loops = loops;
    if (this.opts.replication) logger.info('leading: running the scheduler and the outbox relay');
    loops.wake();
    this.runner.wake();
    await this.opts.replication?.onLeading?.(true);
  }

  private async stepDown(): Promise<void> {
    const loops = this.loops;
    if (loops === null) return;
    this.loops = null;
    if (this.opts.replication && !this.stopping)
      this.opts.logger.warn('no longer leading: scheduler and outbox relay stopped');
    await Promise.all([loops.stop(), this.opts.replication?.onLeading?.(false)]);
  }

  /** Inbox rows were committed here: the scheduler (here or on the leader) looks. */
  private inboxCommitted(): void {
    this.loops?.scheduler.wake();
    this.links?.committed('inbox');
  }

  /** Outbox rows were committed here: the relay (here or on the leader) looks. */
  private outboxCommitted(): void {
    this.loops?.relay.wake();
    this.links?.committed('outbox');
  }

  /** Waits (bounded) until the leader has decided inbox event `id`. */
  private async decidedElsewhere(id: number): Promise<void> {
    const deadline = Date.now() + DECIDED_ELSEWHERE_MS;
    while (Date.now() < deadline) {
      const [oldest] = await this.opts.store.scheduler.pendingEvents(1);
      if (oldest === undefined || oldest.id > id) return;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
