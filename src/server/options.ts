import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { Logger } from 'pino';
import type { Bus } from '../bus/port.js';
import type { Pipeline } from '../core/pipeline.js';
import type { readLog } from '../executor/log-reader.js';
import type { AccessPort } from '../store/access-ports.js';
import type { MetaPort, OutboxPort, ReadPort, Store } from '../store/ports.js';
import type { BuildLinker } from './build-links.js';
import type { Commands } from './commands.js';
import type { AuthFailureReason } from './auth/auth-hook.js';
import type { AccessTable } from './auth/route-access.js';
import type { SseHub } from './sse.js';

/** The app as route modules see it: zod schemas type params, query, body and replies. */
export type ApiApp = FastifyInstance<
  Server,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

/**
 * A router plugged into the server (webhook ingestion, metrics, the web UI). It runs inside its
 * own encapsulated scope after the built-in routes, with the error handler, auth hook and OpenAPI
 * collection already in place. What each route needs is declared in
 * `auth/route-access.ts`; a route not declared there cannot be registered.
 */
export type RouteModule = (app: ApiApp, opts: ServerOptions) => Promise<void>;

/** Where artifact content comes from (`ContentStore` in the embedded deployment). */
export interface ArtifactReader {
  /** A stream of the blob; it errors (ENOENT or similar) when the blob is absent. */
  openRead(digest: string): NodeJS.ReadableStream | Readable;
}

/** The read model the routes answer from (the outbox: SSE clients resuming after an id). */
/** What the API reads: the read model, the outbox (SSE replay) and settings (installation id). */
export type ServerReads = Pick<Store, 'read' | 'outbox'> & { readonly meta: Pick<MetaPort, 'get'> };

export interface ServerOptions {
  readonly read: ReadPort;
  /** Committed lifecycle rows, replayed to SSE clients that reconnect. */
  readonly outbox: OutboxPort;
  readonly meta: Pick<MetaPort, 'get'>;
  /** Live changes: `build` (committed lifecycle changes) and `log` (a log grew). */
  readonly live: Pick<Bus, 'subscribe'>;
  /** The only writes the API makes (besides tokens, through `access`). */
  readonly commands: Commands;
  /** The pipeline running now (a reload swaps it). */
  readonly pipeline: () => Pipeline;
  /** Local build slots, for the queue estimates of traces. */
  readonly slots: number;
  readonly logger: Logger;
  /** nightless' data directory (logs live in `<dataDir>/logs`). */
  readonly dataDir: string;
  readonly artifacts: ArtifactReader;
  readonly readLog: typeof readLog;
  /** Hex sha256 of the API token; the token itself is never held by the server. */
  readonly tokenSha256: string;
  /**
   * Reads need a `read` token (health and the OpenAPI document stay open). `nightless serve` sets
   * it when listening off loopback unless `--public-read`, and always with `--read-auth`.
   */
  readonly readAuth: boolean;
  /** Scoped tokens and the audit trail; without it only the bootstrap token is accepted. */
  readonly access?: AccessPort;
  /** Failed authentications one address may make per window before 429 (default 10 per minute). */
  readonly authFailureLimit?: { readonly maxFailures: number; readonly windowMs: number };
  /** Counts refusals (`nightless_auth_failures_total`). */
  readonly onAuthFailure?: (reason: AuthFailureReason) => void;
  /**
   * Base URL clients reach the server at (`https://ci.example.com`), the base of every build's
   * links. A function when it is known only after listening (port 0): it is read per response.
   */
  readonly publicUrl: string | (() => string);
  /** Largest request body in bytes; default 1 MiB. */
  readonly bodyLimit?: number;
  /**
   * Access of routes that are not nightless' own (`ROUTE_ACCESS` holds those): a plugin's routes,
   * `'POST /x': 'trigger'`. A route declared nowhere fails the server's start.
   */
  readonly extraAccess?: AccessTable;
  /** More routers (webhooks, metrics); see {@link RouteModule}. */
  readonly extraRoutes?: readonly RouteModule[];
  /** `/readyz` answers 503 while this returns false (default: ready until the server closes). */
  readonly ready?: () => boolean;
  /** Interval of SSE heartbeat comments; default 15 s (tests shorten it). */
  readonly sseHeartbeatMs?: number;
  /** Where the built dashboard is (default: the package's `web/dist`). */
  readonly webRoot?: string;
  /** The clock for estimates (trace ETAs); default `Date.now`. Pass the test's clock in tests. */
  readonly now?: () => number;
}

/** What the built-in route modules share (extra modules get only `ServerOptions`). */
export interface RouteContext {
  readonly opts: ServerOptions;
  readonly sse: SseHub;
  /** False once the server started closing, or while `opts.ready` says so. */
  readonly ready: () => boolean;
  readonly now: () => number;
  /** Adds `url` and `apiUrl` to every build a route or the event stream sends. */
  readonly links: BuildLinker;
}
