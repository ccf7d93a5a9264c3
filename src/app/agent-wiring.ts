import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ContentStore } from '../artifacts/content-store.js';
import type { Pipeline } from '../core/pipeline.js';
import type { LocalExecutor } from '../executor/local-executor.js';
import type { LogReplica } from '../executor/port.js';
import { logPath } from '../executor/log-reader.js';
import type { AfterRun } from '../runner/local/build-runner.js';
import type { RunnerEvents } from '../runner/port.js';
import { RemoteRunner } from '../runner/remote/remote-runner.js';

/** Replicas' own slots lease their builds as long as agents do. */
export { DEFAULT_LEASE_MS } from '../runner/remote/remote-runner.js';
import type { AgentService } from '../server/agent-service.js';
import type { RouteModule } from '../server/options.js';
import { agentTokenRoutes } from '../server/routes/agent-tokens.js';
import { agentRoutes } from '../server/routes/agents.js';
import type { Store } from '../store/ports.js';

export interface AgentWiringOptions {
  readonly store: Pick<Store, 'queue' | 'agents' | 'read' | 'access' | 'requests'>;
  readonly dataDir: string;
  readonly artifacts: ContentStore;
  readonly executor: Pick<LocalExecutor, 'appendSystemLine'>;
  readonly logger: Logger;
  readonly buildUrl: (id: number) => string;
  readonly maxAttempts: number;
  readonly leaseMs?: number;
  readonly afterRun?: AfterRun;
  /** Where agents' logs are copied for other replicas (PostgreSQL installations). */
  readonly logReplica?: LogReplica;
}

/**
 * Build agents in the embedded deployment: the remote runner beside the local slots (made by the
 * engine through `EngineOptions.agents`) and the routes agents and operators call.
 */
export class AgentWiring {
  private remote: RemoteRunner | null = null;

  constructor(private readonly opts: AgentWiringOptions) {}

  /** For `EngineOptions.agents`. */
  readonly runner = (events: RunnerEvents, pipeline: () => Pipeline): RemoteRunner => {
    const { opts } = this;
    this.remote = new RemoteRunner({
      ...events,
      queue: opts.store.queue,
      agents: opts.store.agents,
      read: opts.store.read,
      pipeline,
      now: Date.now,
      logger: opts.logger.child({ component: 'agents' }),
      secret: (name) => process.env[name],
      logFile: (id) => logPath(opts.dataDir, id),
      ...(opts.logReplica ? { logReplica: opts.logReplica } : {}),
      appendSystemLine: (id, text, secrets) => opts.executor.appendSystemLine(id, text, secrets),
      buildUrl: opts.buildUrl,
      hasBlob: (digest) => opts.artifacts.has(digest),
      maxAttempts: opts.maxAttempts,
      requests: opts.store.requests,
      ...(opts.leaseMs === undefined ? {} : { leaseMs: opts.leaseMs }),
      ...(opts.afterRun ? { afterRun: opts.afterRun } : {}),
    });
    return this.remote;
  };

  /** The agent routes and the agent-token routes (after the engine started). */
  routes(): RouteModule[] {
    const remote = this.remote;
    if (!remote) throw new Error('the engine has not made the remote runner yet');
    const service: AgentService = remote;
    return [
      agentRoutes({
        service,
        blobs: this.opts.artifacts,
        uploadDir: join(this.opts.dataDir, 'uploads'),
      }),
      agentTokenRoutes(this.opts.store.access),
    ];
  }
}
