import { watch, type FSWatcher } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { ContentStore } from '../artifacts/content-store.js';
import { MemoryBus } from '../bus/memory/memory-bus.js';
import { ConfigError, loadPipelineFile } from '../config/index.js';
import type { Pipeline } from '../core/pipeline.js';
import { Engine } from '../engine/engine.js';
import { runRetention, type RetentionReport } from '../engine/retention.js';
import { logPath, readLog } from '../executor/log-reader.js';
import { LocalExecutor } from '../executor/local-executor.js';
import { FallbackPoller } from '../ingest/poll/fallback-poller.js';
import { pollRoutes } from '../ingest/poll/poll-routes.js';
import { AmqpInputs } from '../ingest/amqp/amqp-inputs.js';
import { webhookRoutes } from '../ingest/webhooks/routes.js';
import { deliveryRoutes } from '../reporters/delivery-routes.js';
import { ReportDispatcher } from '../reporters/dispatcher.js';
import { targetKey } from '../reporters/report-target.js';
import { publishOutputs } from '../reporters/sftp/publish-outputs.js';
import { buildServer } from '../server/build-server.js';
import { openSqliteStore } from '../store/sqlite/open-sqlite-store.js';
import type { Store } from '../store/ports.js';
import { loadApiToken, type ApiToken } from './api-token.js';
import { NightlessMetrics } from './metrics.js';
import { metricsRoutes } from './metrics-routes.js';

export interface StartOptions {
  readonly configPath: string;
  /** How the config file is named in messages (as the user typed it). */
  readonly configDisplayName?: string;
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly slots: number;
  readonly logger: Logger;
  readonly readAuth?: boolean;
  readonly publicUrl?: string;
  /** How often a build lost to a crash is re-queued (default 1). */
  readonly lostRetries?: number;
  /** Watch the pipeline file and reload on change (SIGHUP always reloads). */
  readonly watchConfig?: boolean;
  /** How often retention runs after the run at start (default 1 h). */
  readonly retentionIntervalMs?: number;
}

export interface Nightless {
  readonly engine: Engine;
  readonly server: FastifyInstance;
  readonly poller: FallbackPoller;
  readonly store: Store;
  /** What `GET /metrics` serves. */
  readonly metrics: NightlessMetrics;
  /** Delivers the outbox to the pipeline's `reports:` (AMQP, webhooks, commit statuses). */
  readonly reports: ReportDispatcher;
  readonly url: string;
  readonly token: ApiToken;
  /**
   * Runs retention now (after any run in progress); resolves with what it freed, or `null` when
   * the run failed (logged, counted in `nightless_retention_runs_total{result="error"}`).
   */
  runRetention(): Promise<RetentionReport | null>;
  /** Re-reads the pipeline file; a bad file is rejected (errors logged) and the old one kept. */
  reload(): Promise<{ ok: true } | { ok: false; error: ConfigError }>;
  stop(): Promise<void>;
}

/** The composition root of the embedded deployment: SQLite, in-process bus, local executor. */
export async function startNightless(opts: StartOptions): Promise<Nightless> {
  const { logger } = opts;
  const dataDir = resolve(opts.dataDir);
  await mkdir(dataDir, { recursive: true });
  const displayName = opts.configDisplayName ?? opts.configPath;
  const pipeline = await loadPipelineFile(opts.configPath, { displayName });
  const store = await openSqliteStore({ path: resolve(dataDir, 'nightless.db') });
  const token = await loadApiToken(dataDir);
  const bus = new MemoryBus();
  const artifacts = new ContentStore(dataDir);
  // Known before listening unless the port is chosen by the OS (port 0, tests): then after.
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let publicUrl = opts.publicUrl ?? (opts.port === 0 ? '' : `http://${hostForUrl}:${opts.port}`);
  const executor = new LocalExecutor({
    dataDir,
    artifacts,
    buildUrl: (id) => `${publicUrl}/api/builds/${id}`,
  });
  const metrics = new NightlessMetrics({ store });
  // Reports seen for the first time start here: read before the engine writes (lost builds).
  const reportsStartAfter = await store.lastOutboxId();
  const engine = await Engine.start({
    store: metrics.countInboxWrites(store),
    bus,
    executor,
    pipeline,
    logger,
    slots: opts.slots,
    maxAttempts: (opts.lostRetries ?? 1) + 1,
    buildUrl: (id) => `${publicUrl}/api/builds/${id}`,
    afterRun: publishOutputs({ pathOf: (digest) => artifacts.pathOf(digest), logger }),
  });
  const poller = new FallbackPoller({
    store,
    ingest: (events) => engine.ingestMany(events),
    pipeline: () => engine.pipeline,
    logger,
    changedPaths: (source, from, to) => executor.mirrors.changedPaths(source.url, from, to),
    onPoll: metrics.onPoll,
  });
  const reports = new ReportDispatcher({
    outbox: store,
    deliveries: store.deliveries,
    reads: store,
    logger,
    bus,
    publicUrl: () => publicUrl,
    buildUrl: (id) => `${publicUrl}/api/builds/${id}`,
  });
  const server = await buildServer({
    engine,
    logger,
    dataDir,
    artifacts,
    readLog,
    tokenSha256: token.sha256,
    readAuth: opts.readAuth ?? false,
    publicUrl,
    extraRoutes: [
      pollRoutes(poller),
      webhookRoutes({
        engine,
        poller,
        onSignatureFailure: metrics.onSignatureFailure,
        onEvent: metrics.onWebhookEvent,
      }),
      metricsRoutes(metrics),
      deliveryRoutes({ deliveries: store.deliveries, reads: store, dispatcher: reports }),
    ],
  });
  const address = await server.listen({ host: opts.host, port: opts.port });
  const url = address.replace('[::1]', 'localhost');
  publicUrl ||= url;
  await reports.sync(engine.pipeline, reportsStartAfter);
  await poller.start();
  // Retention (builds, logs, history, artifacts) at start and hourly, one run at a time.
  let retentionRun: Promise<RetentionReport | null> = Promise.resolve(null);
  const retention = (): Promise<RetentionReport | null> => {
    retentionRun = retentionRun.then(async () => {
      try {
        const pipeline = engine.pipeline;
        const report = await runRetention({
          store,
          deliveries: store.deliveries,
          artifacts,
          pipeline,
          reportTargets: pipeline.reports.map((def, i) => targetKey(def, i)),
          logFile: (id) => logPath(dataDir, id),
          onBuildsDeleted: (builds) => engine.forgetBuilds(builds),
          logger,
        });
        metrics.onRetention(report);
        return report;
      } catch (err) {
        logger.error({ err }, 'retention run failed');
        metrics.onRetention(null);
        return null;
      }
    });
    return retentionRun;
  };
  void retention();
  const retentionTimer = setInterval(
    () => void retention(),
    opts.retentionIntervalMs ?? 60 * 60 * 1000,
  );
  retentionTimer.unref();
  const amqpInputs = new AmqpInputs({
    ingest: (events) => engine.ingestMany(events),
    logger,
    onMessage: metrics.onBusMessage,
  });
  await amqpInputs.sync(engine.pipeline);

  let reloading: Promise<unknown> = Promise.resolve();
  const reload = async (): Promise<{ ok: true } | { ok: false; error: ConfigError }> => {
    try {
      const next: Pipeline = await loadPipelineFile(opts.configPath, { displayName });
      await engine.setPipeline(next);
      await poller.resync();
      await amqpInputs.sync(next);
      await reports.sync(next);
      logger.info({ jobs: next.jobs.size, sources: next.sources.size }, 'pipeline reloaded');
      return { ok: true };
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      logger.error(
        {
          problems: err.problems.map(
            (p) => `${p.file}:${p.line}:${p.column}: ${p.path}: ${p.message}`,
          ),
        },
        'new pipeline file rejected; keeping the running one',
      );
      return { ok: false, error: err };
    }
  };
  const serialReload = () => {
    const p = reloading.then(reload, reload);
    reloading = p.catch(() => undefined);
    return p;
  };

  let watcher: FSWatcher | null = null;
  if (opts.watchConfig ?? true) {
    let debounce: NodeJS.Timeout | null = null;
    // Watch the directory, not the file: editors save by renaming a new file over the old one.
    const file = basename(opts.configPath);
    watcher = watch(dirname(resolve(opts.configPath)), (_event, changed) => {
      if (changed !== null && changed !== file) return;
      if (debounce) clearTimeout(debounce);
      debounce = setTimeout(
        () => void serialReload().catch((err: unknown) => logger.error({ err }, 'reload failed')),
        200,
      );
    });
    watcher.on('error', (err) =>
      logger.warn({ err }, 'cannot watch the pipeline file; SIGHUP still reloads'),
    );
  }

  let stopping: Promise<void> | null = null;
  return {
    engine,
    server,
    poller,
    store,
    metrics,
    reports,
    url,
    token,
    reload: serialReload,
    runRetention: retention,
    stop() {
      stopping ??= (async () => {
        watcher?.close();
        poller.stop();
        await amqpInputs.stop();
        clearInterval(retentionTimer);
        await retentionRun;
        await server.close();
        await engine.stop();
        await reports.stop();
        await bus.close();
        await store.close();
      })();
      return stopping;
    },
  };
}
