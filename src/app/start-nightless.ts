import { buildPageUrl } from '../api/urls.js';
import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { AmqpBus } from '../bus/amqp/amqp-bus.js';
import { MemoryBus } from '../bus/memory/memory-bus.js';
import type { Bus } from '../bus/port.js';
import { ConfigError, loadPipelineFile } from '../config/index.js';
import { DEFAULT_NETWORK_LIMITS, type Pipeline } from '../core/pipeline.js';
import { AgentWiring, DEFAULT_LEASE_MS } from './agent-wiring.js';
import { apiPorts } from './api-ports.js';
import { Engine } from './engine.js';
import { runRetention, type RetentionReport } from '../maintenance/retention.js';
import { logPath } from '../executor/log-reader.js';
import { sharedFiles } from './shared-files.js';
import { LocalExecutor } from '../executor/local-executor.js';
import { runProgramsHere } from '../spawn/process-helper.js';
import { FallbackPoller } from '../ingest/poll/fallback-poller.js';
import { AmqpInputs } from '../ingest/amqp/amqp-inputs.js';
import { webhookRoutes } from '../ingest/webhooks/routes.js';
import { changeRequestRoutes } from '../server/routes/change-requests.js';
import { ReportDispatcher } from '../reporters/dispatcher.js';
import { targetKey } from '../reporters/report-target.js';
import { publishOutputs } from '../reporters/sftp/publish-outputs.js';
import { buildServer } from '../server/build-server.js';
import { deliveryRoutes } from '../server/routes/deliveries.js';
import { metricsRoutes } from '../server/routes/metrics.js';
import { pollRoutes } from '../server/routes/poll.js';
import type { NewEvent } from '../store/ports.js';
import { readInstallationId } from '../store/installation-id.js';
import type { ChangedPathsLookup } from '../ingest/changed-paths.js';
import { pathsWhenFiltered } from '../ingest/paths-when-filtered.js';
import { mirrorFacts } from './mirror-facts.js';
import { prefetchEvents } from './prefetch.js';
import { loadApiToken } from './api-token.js';
import { lockDataDir, type DataDirLock } from './data-dir-lock.js';
import { isLoopbackHost } from './listen-address.js';
import { prepareDataDir } from './data-dir.js';
import { NightlessMetrics } from './metrics.js';
import { SloMonitor } from './slo-monitor.js';
import { sloRoutes } from '../server/routes/slos.js';
import { openStore } from './open-store.js';
import { currentPoller, LeaderServices } from './leader-services.js';
import { postgresReplica } from './replica.js';
import type { Nightless, StartOptions } from './nightless-options.js';

export type { Nightless, StartOptions } from './nightless-options.js';

/**
 * Audit entries are kept like builds: as long as the pipeline's `retention.age`, else 90 days;
 * deleted with each retention run (docs/security.md).
 */
const AUDIT_DEFAULT_KEEP_MS = 90 * 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

/** The composition root of one server: the SQLite (or PostgreSQL) store, bus, executors. */
export async function startNightless(opts: StartOptions): Promise<Nightless> {
  const dataDir = await prepareDataDir(opts.dataDir);
  // One server per data dir, before recovery: a second would "recover" the first one's builds.
  const lock = opts.lock ?? (await lockDataDir(dataDir));
  try {
    return await startLocked(opts, dataDir, lock);
  } catch (err) {
    await lock.release();
    throw err;
  }
}

async function startLocked(
  opts: StartOptions,
  dataDir: string,
  lock: DataDirLock,
): Promise<Nightless> {
  const { logger } = opts;
  const replica =
    opts.replica ?? (opts.database ? postgresReplica(opts.database, dataDir, logger) : undefined);
  const displayName = opts.configDisplayName ?? opts.configPath;
  const pipeline = await loadPipelineFile(opts.configPath, { displayName });
  const store = await openStore({ dataDir, database: opts.database, logger });
  const token = await loadApiToken(dataDir);
  const installationId = await readInstallationId(store.meta);
  const bus: Bus = opts.busUrl
    ? AmqpBus.start({
        url: opts.busUrl,
        scope: installationId,
        name: replica?.name ?? 'nightless',
        logger,
      })
    : new MemoryBus();
  const files = sharedFiles(opts.database ? store : null, dataDir, logger, opts); // logs, blobs
  const artifacts = files.artifacts;
  // Known before listening unless the port is chosen by the OS (port 0, tests): then after.
  const hostForUrl = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  let publicUrl = opts.publicUrl ?? (opts.port === 0 ? '' : `http://${hostForUrl}:${opts.port}`);
  const buildUrl = (id: number): string => buildPageUrl(publicUrl, id);
  // Git runs from a small helper process (`spawn/process-helper.ts`) unless opted out.
  if (opts.gitHelper === false) runProgramsHere();
  const local = { dataDir, artifacts, buildUrl, workspaces: opts.workspaces, ...files.replica };
  const executor = new LocalExecutor(local);
  executor.mirrors.setNetworkLimits(pipeline.network ?? DEFAULT_NETWORK_LIMITS);
  const metrics = new NightlessMetrics({ store });
  bus.subscribe('build', metrics.onBuildEvent);
  // Set once the report dispatcher exists; an SLO alert recorded before it is found by its start.
  let wakeReports = (): void => undefined;
  const slos = new SloMonitor({
    store: store.read,
    traces: store.traces,
    now: Date.now,
    logger,
    onTransition: (t) => {
      metrics.onSloTransition(t);
      // Through the outbox: report targets deliver it with their retries and dead letters.
      const alert = { kind: t.kind, pipeline: engine.pipeline.name, report: t.report, at: t.at };
      store.outbox.appendSloAlert(alert, t.at).then(
        () => wakeReports(),
        (err: unknown) =>
          logger.error({ err, slo: t.report.name }, 'recording an SLO alert failed'),
      );
    },
  });
  await slos.load(pipeline);
  metrics.watchSlos(() => slos.reports());
  bus.subscribe('build', slos.observe);
  // Reports seen for the first time start here: read before the engine writes (lost builds).
  const reportsStartAfter = await store.read.lastOutboxId();
  // Ingest and the scheduler ask the git mirrors the build checkouts use (and so warm them).
  const mirrorPaths: ChangedPathsLookup = pathsWhenFiltered(
    {
      changedPaths: (source, from, to, signal) =>
        executor.mirrors.changedPaths(source.url, from, to, signal),
      knownHead: async (source, ref) =>
        (await store.sources.sourceHeads(source)).find((h) => h.ref === ref)?.version ?? null,
    },
    () => engine.pipeline,
  );
  const afterRun = publishOutputs({ pathOf: (digest) => artifacts.pathOf(digest), logger });
  const maxAttempts = (opts.lostRetries ?? 1) + 1;
  // Agent routes are served by every replica: agents may ask any of them (docs/deploy.md).
  const agents = new AgentWiring({
    ...{ store, dataDir, artifacts, executor, logger, buildUrl, maxAttempts, afterRun },
    ...(opts.agentLeaseMs === undefined ? {} : { leaseMs: opts.agentLeaseMs }),
    ...files.replica,
  });
  // Assigned after the engine; its callback may run before (see onLeading), so it is declared
  // here: a lead taken while Engine.start runs must find `undefined`, not a temporal dead zone.
  let services: LeaderServices | undefined = undefined;
  const engine = await Engine.start({
    store: metrics.countInboxWrites(store),
    bus,
    executor,
    pipeline,
    logger,
    slots: opts.slots,
    maxAttempts,
    afterRun,
    agents: agents.runner,
    facts: mirrorFacts(executor.mirrors),
    requests: store.requests,
    ...(replica
      ? {
          worker: replica.name,
          replication: {
            leadership: replica.leadership,
            leases: { port: store.agents, ms: opts.agentLeaseMs ?? DEFAULT_LEASE_MS },
            // Until the services exist (the lead can come during Engine.start) `enable` catches up.
            onLeading: (leading: boolean) => services?.set(leading) ?? Promise.resolve(),
          },
        }
      : {}),
  });
  metrics.observeReplica({
    leading: () => engine.leading,
    busConnected: () => !(bus instanceof AmqpBus) || bus.connected,
  });
  // Start early: a version found or announced is fetched into the mirror while it is decided.
  const prefetch = (events: readonly NewEvent[]): void =>
    prefetchEvents(executor.mirrors, engine.pipeline, events);
  services = new LeaderServices({
    makePoller: () =>
      new FallbackPoller({
        store: store.sources,
        ingest: (events) => {
          prefetch(events);
          return engine.ingestMany(events);
        },
        pipeline: () => engine.pipeline,
        logger,
        changedPaths: mirrorPaths,
        onPoll: metrics.onPoll,
        requests: store.requests,
      }),
    makeReports: () =>
      new ReportDispatcher({
        outbox: store.outbox,
        deliveries: store.deliveries,
        reads: store.read,
        logger,
        bus,
        publicUrl: () => publicUrl,
        buildUrl,
        requests: store.requests,
        onDelivered: slos.observe,
      }),
    pipeline: () => engine.pipeline,
    retention: () => retention(),
    retentionIntervalMs: opts.retentionIntervalMs ?? HOUR_MS,
    firstReportsStartAfter: reportsStartAfter,
    logger,
  });
  wakeReports = () => services?.reports?.wake();
  const poller = currentPoller(services);
  const reportTargets = {
    targets: () => services.reports?.targets() ?? [],
    wake: () => services.reports?.wake(),
  };
  const server = await buildServer({
    ...apiPorts(engine, store, bus),
    logger,
    dataDir,
    artifacts,
    readLog: files.readLog,
    tokenSha256: token.sha256,
    readAuth: readsNeedToken(opts),
    access: store.access,
    onAuthFailure: metrics.onAuthFailure,
    ...(opts.authFailureLimit ? { authFailureLimit: opts.authFailureLimit } : {}),
    // Read per response: with port 0 the address is known only after listening.
    publicUrl: () => publicUrl,
    extraRoutes: [
      pollRoutes(poller),
      webhookRoutes({
        target: {
          ingestMany: (events) => engine.ingestMany(events),
          get pipeline() {
            return engine.pipeline;
          },
        },
        poller,
        paths: mirrorPaths,
        onAccepted: prefetch,
        onSignatureFailure: metrics.onSignatureFailure,
        onEvent: metrics.onWebhookEvent,
        requests: store.requests,
      }),
      changeRequestRoutes({ requests: store.requests }),
      metricsRoutes(metrics),
      sloRoutes(() => slos.reports()),
      deliveryRoutes({
        deliveries: store.deliveries,
        reads: store.read,
        dispatcher: reportTargets,
      }),
      ...agents.routes(),
    ],
  });
  const address = await server.listen({ host: opts.host, port: opts.port });
  const url = address.replace('[::1]', 'localhost');
  publicUrl ||= url;
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
          ...files.retention,
          onBuildsDeleted: (builds) => engine.forgetBuilds(builds),
          logger,
        });
        metrics.onRetention(report);
        const auditKeepMs = pipeline.retention?.ageMs ?? AUDIT_DEFAULT_KEEP_MS;
        await store.access.pruneAudit(Date.now() - auditKeepMs);
        return report;
      } catch (err) {
        logger.error({ err }, 'retention run failed');
        metrics.onRetention(null);
        return null;
      }
    });
    return retentionRun;
  };
  // Reports, fallback polls and retention: now when this server leads, else when it takes over.
  await services.enable(engine.leading);
  // This machine's workspaces, whoever leads: each replica prunes its own.
  executor.workspaces.startPruning(opts.retentionIntervalMs ?? HOUR_MS, logger);
  const amqpInputs = new AmqpInputs({
    installationId,
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
      executor.mirrors.setNetworkLimits(next.network ?? DEFAULT_NETWORK_LIMITS);
      await slos.load(next);
      await services.resync(next);
      await amqpInputs.sync(next);
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
    get poller() {
      return services.poller;
    },
    store,
    access: store.access,
    metrics,
    get reports() {
      const reports = services.reports;
      if (reports === null) throw new Error('reports run on the leading replica only');
      return reports;
    },
    url,
    token,
    reload: serialReload,
    runRetention: retention,
    stop() {
      stopping ??= (async () => {
        try {
          watcher?.close();
          await services.poller.stop();
          slos.stop();
          await amqpInputs.stop();
          await retentionRun;
          await server.close();
          await engine.stop();
          const left = await executor.stop();
          if (left > 0)
            logger.error({ left }, 'git runs still going 5 s after being killed; stopping anyway');
          await files.stop(); // the last lines of builds that just ended; local copies' prune
          await services.stop();
          await bus.close();
          await store.close();
        } finally {
          // Last: until the database is closed, no other server may open it.
          await lock.release();
        }
      })();
      return stopping;
    },
  };
}

/** Reads: open on a loopback listener, else need a `read` token unless `--public-read` (docs/security.md). */
export function readsNeedToken(
  opts: Pick<StartOptions, 'host' | 'readAuth' | 'publicRead'>,
): boolean {
  if (opts.readAuth) return true;
  return !isLoopbackHost(opts.host) && !opts.publicRead;
}
