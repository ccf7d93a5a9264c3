import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ConfigError } from '../config/index.js';
import type { WorkspacesOptions } from '../executor/workspace.js';
import type { FallbackPoller } from '../ingest/poll/fallback-poller.js';
import type { RetentionReport } from '../maintenance/retention.js';
import type { ReportDispatcher } from '../reporters/dispatcher.js';
import type { AccessPort } from '../store/access-ports.js';
import type { Store } from '../store/ports.js';
import type { ApiToken } from './api-token.js';
import type { DataDirLock } from './data-dir-lock.js';
import type { Engine } from './engine.js';
import type { NightlessMetrics } from './metrics.js';
import type { Replica } from './replica.js';

// What `startNightless` (app/start-nightless.ts) takes and gives: one server of the embedded
// deployment or one replica of a scaled-out one.

export interface StartOptions {
  readonly configPath: string;
  /** How the config file is named in messages (as the user typed it). */
  readonly configDisplayName?: string;
  readonly dataDir: string;
  /** PostgreSQL URL of the store; default the SQLite file in `dataDir` (docs/deploy.md). */
  readonly database?: string;
  readonly host: string;
  readonly port: number;
  readonly slots: number;
  readonly logger: Logger;
  /** Require a `read` token for reads even on a loopback listener. */
  readonly readAuth?: boolean;
  /** Leave reads open on a non-loopback listener (they need a `read` token by default there). */
  readonly publicRead?: boolean;
  /** Failed authentications per address and window before 429 (default 10 per minute). */
  readonly authFailureLimit?: { readonly maxFailures: number; readonly windowMs: number };
  readonly publicUrl?: string;
  /** How often a build lost to a crash is re-queued (default 1). */
  readonly lostRetries?: number;
  /** Watch the pipeline file and reload on change (SIGHUP always reloads). */
  readonly watchConfig?: boolean;
  /**
   * Spawn git from the small helper process of `spawn/process-helper.ts` (default true); `false`
   * spawns it from this process, for the rest of the process's life.
   */
  readonly gitHelper?: boolean;
  /**
   * The data directory's lock when the caller took it already (`serve --demo` writes into the
   * directory first); otherwise it is taken here. Either way `stop()` releases it.
   */
  readonly lock?: DataDirLock;
  /** How often retention and the workspaces' prune run after the run at start (default 1 h). */
  readonly retentionIntervalMs?: number;
  /** How long failed builds' workspaces and idle warm trees are kept, and a size cap. */
  readonly workspaces?: Partial<WorkspacesOptions>;
  /** `amqp://…` (`--bus`): wake-ups between server replicas over RabbitMQ; default in-process. */
  readonly busUrl?: string;
  /**
   * This server is one of several replicas sharing the database (scale-out): it recovers only
   * the builds it ran (`name` is its worker name), and runs the scheduler, relay, reports,
   * retention and fallback polls only while `leadership` says it leads. Default with
   * `database`: a PostgreSQL advisory lock (`postgresReplica`); without: the embedded server.
   */
  readonly replica?: Replica;
  /** How long an agent's lease lasts without a heartbeat (default 30 s). */
  readonly agentLeaseMs?: number;
}

export interface Nightless {
  readonly engine: Engine;
  readonly server: FastifyInstance;
  /** The leader's fallback poller; between terms, one that only checks on demand. */
  readonly poller: FallbackPoller;
  readonly store: Store;
  /** Tokens and the audit trail (docs/security.md). */
  readonly access: AccessPort;
  /** What `GET /metrics` serves. */
  readonly metrics: NightlessMetrics;
  /**
   * Delivers the outbox to the pipeline's `reports:` (AMQP, webhooks, commit statuses); only the
   * leader runs one (reading it on a replica that does not lead throws).
   */
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
