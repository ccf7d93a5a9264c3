import type { ChangeRequestPort } from '../store/ports/change-requests.js';
import type { Logger } from 'pino';
import type { Bus } from '../bus/port.js';
import type { Pipeline, ReportDef } from '../core/pipeline.js';
import type { DeliveryPort, OutboxPort, ReadPort } from '../store/ports.js';
import { DeliveryTally, type DeliveryObservation } from '../core/slo/delivery-tally.js';
import { AmqpReporter } from './amqp/amqp-reporter.js';
import { commitStatusSender } from './commit-status/commit-status-sender.js';
import { EventFactory } from './event-factory.js';
import { describeTarget, targetKey } from './report-target.js';
import { DELIVERY_BACKOFF, RECONNECT_BACKOFF, type Backoff } from '../core/backoff.js';
import type { Sender, SenderContext } from './sender.js';
import { TargetWorker } from './target-worker.js';
import { WebhookReporter } from './webhook/webhook-reporter.js';

export interface DispatcherDeps {
  readonly outbox: OutboxPort;
  readonly deliveries: DeliveryPort;
  readonly reads: Pick<ReadPort, 'getBuild' | 'lastOutboxId'>;
  readonly logger: Logger;
  /** The bus's `build` topic wakes every target (the bus only wakes; the outbox is the truth). */
  readonly bus?: Bus;
  /** Base URL of the server (CloudEvents `source`); read at send time, it may be set late. */
  readonly publicUrl: () => string;
  readonly buildUrl: (id: number) => string;
  /** Change requests: events about their builds carry `changeRequest`. */
  readonly requests?: Pick<ChangeRequestPort, 'getRequest' | 'approvalOf'>;
  readonly now?: () => number;
  readonly random?: () => number;
  /** Between attempts of an HTTP delivery (default 1 s doubling to 5 min). */
  readonly retry?: Backoff;
  /** Between reconnects to a broker (default 0.5 s doubling to 30 s). */
  readonly reconnect?: Backoff;
  /** Safety-net wake of every target, in case a bus wake got lost (default 5 s). */
  readonly pollMs?: number;
  /** Outbox rows read (and AMQP messages in flight) per pass (default 200). */
  readonly batchSize?: number;
  /** AMQP connect timeout (TCP + handshake; default 5 s) and confirm timeout (default 10 s). */
  readonly amqpConnectTimeoutMs?: number;
  readonly amqpConfirmTimeoutMs?: number;
  /**
   * An outbox event every report target is done with (the `delivery` SLO): when the last one was
   * and whether any gave it up.
   */
  readonly onDelivered?: (o: DeliveryObservation) => void;
  /** Replaces the sender of a report (tests, benchmarks). */
  readonly createSender?: (def: ReportDef, ctx: SenderContext) => Sender | null;
}

export interface TargetInfo {
  readonly target: string;
  readonly kind: ReportDef['kind'];
  readonly description: string;
  readonly position: number;
}

/**
 * Sends every build lifecycle change in the outbox to each configured report (DESIGN "Events
 * out"): one {@link TargetWorker} per report, woken by the bus and a timer. `sync()` follows the
 * pipeline's `reports:`; a report seen for the first time starts after the outbox's current end
 * (or `startAfter`), not at the beginning of history.
 */
export class ReportDispatcher {
  private readonly workers = new Map<string, { worker: TargetWorker; def: ReportDef }>();
  private readonly events: EventFactory;
  private readonly now: () => number;
  private pipeline: Pipeline | null = null;
  private unsubscribe: (() => void) | null = null;
  private poll: NodeJS.Timeout | null = null;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly tally = new DeliveryTally();

  constructor(private readonly deps: DispatcherDeps) {
    this.now = deps.now ?? Date.now;
    this.events = new EventFactory({
      reads: deps.reads,
      pipelineName: () => this.pipeline?.name ?? 'nightless',
      publicUrl: deps.publicUrl,
      buildUrl: deps.buildUrl,
      ...(deps.requests ? { requests: deps.requests } : {}),
    });
    this.unsubscribe = deps.bus?.subscribe('build', () => this.wake()) ?? null;
    const pollMs = deps.pollMs ?? 5_000;
    this.poll = setInterval(() => this.wake(), pollMs);
    this.poll.unref();
  }

  /**
   * Starts workers for new reports and stops those of removed ones. `startAfter` is where new
   * targets begin (read it before the engine starts so nothing written meanwhile is missed);
   * default: the outbox's end now. Calls are serialised.
   */
  sync(pipeline: Pipeline, startAfter?: number): Promise<void> {
    const run = this.syncing.then(() => this.syncNow(pipeline, startAfter));
    this.syncing = run.catch(() => undefined);
    return run;
  }

  wake(): void {
    for (const { worker } of this.workers.values()) worker.wake();
  }

  targets(): TargetInfo[] {
    return [...this.workers.values()].map(({ worker, def }) => ({
      target: worker.target,
      kind: def.kind,
      description: worker.description,
      position: worker.position,
    }));
  }

  /** Resolves when every target's cursor reached the outbox's end (tests, benchmarks). */
  async drained(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const end = await this.deps.reads.lastOutboxId();
      const behind = [...this.workers.values()].filter(
        ({ worker }) => worker.position < end || worker.working,
      );
      if (behind.length === 0) return;
      if (Date.now() > deadline)
        throw new Error(
          `reports not drained: ${behind.map((b) => `${b.worker.target}@${b.worker.position}`).join(', ')} < ${end}`,
        );
      this.wake();
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    await this.syncing;
    await Promise.all([...this.workers.values()].map(({ worker }) => worker.stop()));
    this.workers.clear();
  }

  private async syncNow(pipeline: Pipeline, startAfter: number | undefined): Promise<void> {
    if (this.stopped) return;
    this.pipeline = pipeline;
    const wanted = new Map(pipeline.reports.map((def, i) => [targetKey(def, i), def]));
    for (const [key, entry] of this.workers) {
      if (wanted.has(key) && sameDef(wanted.get(key), entry.def)) continue;
      this.workers.delete(key);
      await entry.worker.stop();
    }
    const ctx: SenderContext = {
      pipeline: () => this.pipeline ?? pipeline,
      getBuild: (id) => this.deps.reads.getBuild(id),
    };
    const from = startAfter ?? (await this.deps.reads.lastOutboxId());
    for (const [key, def] of wanted) {
      if (this.workers.has(key)) continue;
      const sender = this.deps.createSender?.(def, ctx) ?? this.createSender(def, key, ctx);
      if (!sender) continue;
      const cursor = await this.deps.deliveries.ensureCursor(key, def.kind, from, this.now());
      const worker = new TargetWorker(key, describeTarget(def), sender, cursor, {
        outbox: this.deps.outbox,
        deliveries: this.deps.deliveries,
        events: this.events,
        logger: this.deps.logger,
        now: this.now,
        random: this.deps.random ?? Math.random,
        retry: this.deps.retry ?? DELIVERY_BACKOFF,
        reconnect: this.deps.reconnect ?? RECONNECT_BACKOFF,
        batchSize: this.deps.batchSize ?? 200,
        ...(this.deps.onDelivered ? { onDone: this.onDone } : {}),
      });
      this.workers.set(key, { worker, def });
      worker.wake();
    }
  }

  /** A target is done with an entry: the entries every target has passed are delivered. */
  private readonly onDone = (entry: { id: number; createdAt: number }, ok: boolean): void => {
    this.tally.seen(entry.id, entry.createdAt, ok);
    const positions = [...this.workers.values()].map(({ worker }) => worker.position);
    if (positions.length === 0) return;
    for (const o of this.tally.settle(Math.min(...positions), this.now()))
      this.deps.onDelivered?.(o);
  };

  private createSender(def: ReportDef, key: string, ctx: SenderContext): Sender {
    switch (def.kind) {
      case 'amqp':
        return new AmqpReporter(def, {
          connectionName: `nightless report ${key}`,
          connectTimeoutMs: this.deps.amqpConnectTimeoutMs ?? 5_000,
          confirmTimeoutMs: this.deps.amqpConfirmTimeoutMs ?? 10_000,
          logger: this.deps.logger,
        });
      case 'webhook':
        return new WebhookReporter(def);
      case 'commit_status':
        return commitStatusSender(def, ctx);
    }
  }
}

/** Same report including its secrets (a rotated token restarts the worker, keeping the cursor). */
function sameDef(a: ReportDef | undefined, b: ReportDef): boolean {
  return a !== undefined && JSON.stringify(a) === JSON.stringify(b);
}
