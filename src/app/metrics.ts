import type { AuthFailureReason } from '../server/auth/auth-hook.js';
import type { SloReport } from '../core/slo/slo-set.js';
import { registerSloMetrics } from './slo-metrics.js';
import type { SloTransition } from './slo-monitor.js';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { BUILD_STATES, type EventOrigin } from '../core/build.js';
import type { SourceName } from '../core/pipeline.js';
import { RETAINED_KINDS, type RetentionReport } from '../maintenance/retention.js';
import type { PollReport } from '../ingest/poll/fallback-poller.js';
import type { IngestKind, IngestOutcome } from '../ingest/webhooks/routes.js';
import type { SignatureFailure } from '../ingest/webhooks/signature.js';
import type {
  AppendedEvent,
  FinishedRun,
  NewEvent,
  OutboxRecord,
  ReadPort,
  SchedulerPort,
  Store,
} from '../store/ports.js';

/** `outcome` label of `nightless_events_received_total`. */
export type ReceivedOutcome = 'accepted' | 'duplicate-delivery' | 'ignored' | 'rejected';

/** `kind` label of `nightless_events_received_total`: where the event came from. */
export type ReceivedKind = Exclude<EventOrigin, 'reload'>;

/** What the scrape-time gauges read. */
export interface MetricsStore {
  readonly read: Pick<ReadPort, 'countBuildsByState' | 'listSources'>;
  readonly scheduler: Pick<SchedulerPort, 'pendingEvents'>;
}

export interface MetricsOptions {
  readonly store: MetricsStore;
  readonly now?: () => number;
  /** Node's process metrics (`process_*`, `nodejs_*`); default on. */
  readonly defaultMetrics?: boolean;
}

/**
 * The Prometheus metrics of one server (`GET /metrics`, docs/operations.md "Metrics"), in a
 * registry of its own (never prom-client's global one, so two servers in one process — tests —
 * don't collide). Counters are fed by callbacks (`onWebhookEvent`, `onSignatureFailure`,
 * `onPoll`, `onBusMessage`) and by {@link NightlessMetrics.countInboxWrites}; gauges are read
 * from the store when scraped. Counters live in memory: they restart from 0 with the process,
 * as Prometheus expects.
 */
export class NightlessMetrics {
  readonly registry = new Registry();
  private readonly received: Counter<'source' | 'kind' | 'outcome'>;
  private readonly signatureFailures: Counter<'forge'>;
  private readonly polls: Counter<'source' | 'result'>;
  private readonly missed: Counter<'source'>;
  private readonly authFailures: Counter<'reason'>;
  private readonly retentionRows: Counter<'kind'>;
  private readonly retentionBytes: Counter<'kind'>;
  private readonly retentionRuns: Counter<'result'>;
  private readonly buildsEnded: Counter<'job' | 'state' | 'class'>;

  constructor(opts: MetricsOptions) {
    const { store } = opts;
    const now = opts.now ?? Date.now;
    const registers = [this.registry];
    this.received = new Counter({
      name: 'nightless_events_received_total',
      help: 'Events received, by source, origin (kind) and outcome.',
      labelNames: ['source', 'kind', 'outcome'],
      registers,
    });
    this.buildsEnded = new Counter({
      name: 'nightless_builds_total',
      help: 'Builds that ended, by job, state and failure class (`none` for passed/skipped).',
      labelNames: ['job', 'state', 'class'],
      registers,
    });
    this.signatureFailures = new Counter({
      name: 'nightless_webhook_signature_failures_total',
      help: 'Webhook deliveries rejected for their signature (missing, mismatch, no secret).',
      labelNames: ['forge'],
      registers,
    });
    this.polls = new Counter({
      name: 'nightless_polls_total',
      help: 'Fallback checks (ls-remote / conditional GET), by source and result.',
      labelNames: ['source', 'result'],
      registers,
    });
    this.authFailures = new Counter({
      name: 'nightless_auth_failures_total',
      help: 'API requests refused: no token (missing), unknown/expired/revoked (invalid), lacking the scope (forbidden), or an address slowed down after repeated failures (throttled).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['missing', 'invalid', 'forbidden', 'throttled'] as const)
      this.authFailures.inc({ reason }, 0);
    this.missed = new Counter({
      name: 'nightless_missed_events_total',
      help: 'Fallback checks that found a version no event announced, by source.',
      labelNames: ['source'],
      registers,
    });
    this.retentionRows = new Counter({
      name: 'nightless_retention_deleted_rows_total',
      help: 'Rows retention deleted, by kind (builds, decisions, versions, events, outbox, deliveries, artifacts).',
      labelNames: ['kind'],
      registers,
    });
    this.retentionBytes = new Counter({
      name: 'nightless_retention_freed_bytes_total',
      help: 'Bytes retention freed on disk, by kind (logs, artifacts).',
      labelNames: ['kind'],
      registers,
    });
    this.retentionRuns = new Counter({
      name: 'nightless_retention_runs_total',
      help: 'Retention runs, by result (ok, error).',
      labelNames: ['result'],
      registers,
    });
    // Every label exists from the start, so a rate() over a quiet period reads 0, not "no data".
    for (const kind of RETAINED_KINDS) this.retentionRows.inc({ kind }, 0);
    for (const kind of ['logs', 'artifacts']) this.retentionBytes.inc({ kind }, 0);
    for (const result of ['ok', 'error']) this.retentionRuns.inc({ result }, 0);
    new Gauge({
      name: 'nightless_inbox_lag_seconds',
      help: 'Age of the oldest inbox event the scheduler has not processed yet (0 when empty).',
      registers,
      async collect() {
        const [oldest] = await store.scheduler.pendingEvents(1);
        this.set(oldest ? Math.max(0, now() - oldest.receivedAt) / 1000 : 0);
      },
    });
    new Gauge({
      name: 'nightless_missed_event_ratio',
      help: 'Missed events / (missed + received events) per source, since the source was added.',
      labelNames: ['source'],
      registers,
      async collect() {
        this.reset();
        for (const s of await store.read.listSources()) {
          const total = s.missedEvents + s.eventsReceived;
          this.set({ source: s.name }, total === 0 ? 0 : s.missedEvents / total);
        }
      },
    });
    // The three build gauges come from one query per scrape, shared through `counts`.
    let counts: Promise<Record<string, number>> | null = null;
    const buildCounts = (): Promise<Record<string, number>> => {
      counts ??= store.read.countBuildsByState().finally(() => {
        counts = null;
      });
      return counts;
    };
    new Gauge({
      name: 'nightless_builds',
      help: 'Builds in the database, by state.',
      labelNames: ['state'],
      registers,
      async collect() {
        const byState = await buildCounts();
        this.reset();
        for (const state of new Set([...BUILD_STATES, ...Object.keys(byState)]))
          this.set({ state }, byState[state] ?? 0);
      },
    });
    new Gauge({
      name: 'nightless_queue_depth',
      help: 'Builds waiting for a slot (state queued).',
      registers,
      async collect() {
        this.set((await buildCounts())['queued'] ?? 0);
      },
    });
    new Gauge({
      name: 'nightless_running_builds',
      help: 'Builds running now.',
      registers,
      async collect() {
        this.set((await buildCounts())['running'] ?? 0);
      },
    });
    // The event-loop lag histogram samples with a timer; prom-client's default 10 ms alone cost
    // ~0.5 CPU-s per minute of an idle server (bench/RESULTS.md, "Ingest"); 200 ms: ~0.03.
    if (opts.defaultMetrics ?? true)
      collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 200 });
  }

  /**
   * A lifecycle change relayed from the outbox (bus topic `build`): endings are counted once per
   * outbox row, so a build counts once however many reporters deliver it.
   */
  readonly onBuildEvent = (record: OutboxRecord): void => {
    if (record.type === 'queued' || record.type === 'started') return;
    const b = record.build;
    this.buildsEnded.inc({ job: b.job, state: b.state, class: b.failureClass ?? 'none' });
  };

  private sloSeries: ReturnType<typeof registerSloMetrics> | null = null;

  /** Adds the SLO series (`app/slo-metrics.ts`), read from `reports` at scrape time. Call once. */
  watchSlos(reports: () => SloReport[]): void {
    this.sloSeries ??= registerSloMetrics(this.registry, reports);
  }

  /** A fast-burn alert started or ended (`SloMonitor`). */
  onSloTransition(t: SloTransition): void {
    this.sloSeries?.transition(t.report.name, t.kind);
  }

  /** `nightless_leader` and `nightless_bus_connected`, read at scrape time. Call once. */
  observeReplica(probe: { leading(): boolean; busConnected(): boolean }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'nightless_leader',
      help: '1 while this server runs the scheduler and the outbox relay (the embedded server: always).',
      registers,
      collect() {
        this.set(probe.leading() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'nightless_bus_connected',
      help: '1 while the bus reaches the other replicas (the in-process bus: always).',
      registers,
      collect() {
        this.set(probe.busConnected() ? 1 : 0);
      },
    });
  }

  /** One event, counted once. `source` is `''` when the event concerned no source. */
  eventReceived(source: SourceName | null, kind: ReceivedKind, outcome: ReceivedOutcome): void {
    this.received.inc({ source: source ?? '', kind, outcome });
  }

  /**
   * `WebhookDeps.onEvent`. Accepted deliveries and redeliveries are counted where they are
   * written ({@link countInboxWrites}), so only `ignored` and `polled` (an http source asked to
   * be checked: accepted, no inbox event of its own) are counted here.
   */
  readonly onWebhookEvent = (
    source: SourceName | null,
    kind: IngestKind,
    outcome: IngestOutcome,
  ): void => {
    const origin = kind === 'git' ? 'hook' : 'webhook';
    if (outcome === 'ignored') this.eventReceived(source, origin, 'ignored');
    else if (outcome === 'polled') this.eventReceived(source, origin, 'accepted');
  };

  /** `WebhookDeps.onSignatureFailure`: the failure counter and a `rejected` event. */
  readonly onSignatureFailure = (kind: IngestKind, _reason: SignatureFailure): void => {
    this.signatureFailures.inc({ forge: kind });
    this.eventReceived(null, kind === 'git' ? 'hook' : 'webhook', 'rejected');
  };

  /** `ServerOptions.onAuthFailure`: every refused API request. */
  readonly onAuthFailure = (reason: AuthFailureReason): void => {
    this.authFailures.inc({ reason });
  };

  /** `PollerDeps.onPoll`: every check, scheduled or asked for. */
  readonly onPoll = (report: PollReport): void => {
    this.polls.inc({ source: report.source, result: report.ok ? 'ok' : 'error' });
    if (report.missed) this.missed.inc({ source: report.source });
  };

  /** One retention run's result (`null`: the run failed). */
  readonly onRetention = (report: RetentionReport | null): void => {
    this.retentionRuns.inc({ result: report === null ? 'error' : 'ok' });
    if (report === null) return;
    for (const kind of RETAINED_KINDS) this.retentionRows.inc({ kind }, report.rows[kind]);
    this.retentionBytes.inc({ kind: 'logs' }, report.bytes.logs);
    this.retentionBytes.inc({ kind: 'artifacts' }, report.bytes.artifacts);
  };

  /** `AmqpConsumerDeps.onMessage`: versions are counted at the inbox write; the rest here. */
  readonly onBusMessage = (
    source: SourceName,
    outcome: 'version' | 'not-for-us' | 'malformed',
  ): void => {
    if (outcome === 'not-for-us') this.eventReceived(source, 'bus', 'ignored');
    else if (outcome === 'malformed') this.eventReceived(source, 'bus', 'rejected');
  };

  /**
   * The store with its inbox writes counted: every event written (webhooks, hooks, bus, polls,
   * manual triggers, build outputs) is `accepted`, or `duplicate-delivery` when its delivery id
   * was seen before. Counted after the write commits; a failed write counts nothing. Reconcile
   * and settle events are internal and not counted. Everything else passes straight through.
   */
  countInboxWrites<S extends Pick<Store, 'inbox' | 'queue'>>(store: S): S {
    const count = (events: readonly NewEvent[], appended: readonly AppendedEvent[]): void => {
      events.forEach((e, i) => {
        const outcome = appended[i]?.redelivery === true ? 'duplicate-delivery' : 'accepted';
        if (e.kind === 'source' && e.origin !== 'reload')
          this.eventReceived(e.source, e.origin, outcome);
        else if (e.kind === 'trigger') this.eventReceived(null, 'manual', outcome);
      });
    };
    const { inbox, queue } = store;
    const counted: Pick<Store, 'inbox' | 'queue'> = {
      inbox: {
        appendEvent: async (event) => {
          const appended = await inbox.appendEvent(event);
          count([event], [appended]);
          return appended;
        },
        appendEvents: async (events) => {
          const appended = await inbox.appendEvents(events);
          count(events, appended);
          return appended;
        },
      },
      queue: {
        claimNextBuild: (worker, now, filter) => queue.claimNextBuild(worker, now, filter),
        finishBuild: async (id: number, run: FinishedRun, at: number) => {
          const build = await queue.finishBuild(id, run, at);
          count(
            run.outputEvents,
            run.outputEvents.map(() => ({ id: 0, redelivery: false })),
          );
          return build;
        },
        queueRetry: (previous, now, notBefore) => queue.queueRetry(previous, now, notBefore),
        nextRetryAt: (now) => queue.nextRetryAt(now),
        requeueBuild: (id, now) => queue.requeueBuild(id, now),
        cancelQueuedBuild: (id, reason, now) => queue.cancelQueuedBuild(id, reason, now),
        recoverLostBuilds: (now, maxAttempts, worker) =>
          queue.recoverLostBuilds(now, maxAttempts, worker),
        outputFiles: (source, version) => queue.outputFiles(source, version),
      },
    };
    return { ...store, ...counted };
  }

  /** The exposition text and its content type, for `GET /metrics`. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
