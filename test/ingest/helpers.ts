import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Pipeline } from '../../src/core/pipeline.js';
import { readLog } from '../../src/executor/log-reader.js';
import { webhookRoutes, type WebhookDeps } from '../../src/ingest/webhooks/routes.js';
import { buildServer } from '../../src/server/build-server.js';
import type { NewEvent } from '../../src/store/ports.js';
import { startHarness, type Harness } from '../../src/testing/harness.js';
import { apiPorts } from '../../src/app/api-ports.js';

export const TOKEN = 'ingest-test-token-0123456789';
const TOKEN_SHA256 = createHash('sha256').update(TOKEN).digest('hex');

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'webhooks');

/** A documented example payload (test/fixtures/webhooks/<forge>/<name>.json), parsed. */
export function fixture(
  forge: 'github' | 'gitlab' | 'gitea',
  name: string,
): Record<string, unknown> {
  return JSON.parse(readFileSync(join(FIXTURES, forge, `${name}.json`), 'utf8')) as Record<
    string,
    unknown
  >;
}

export function hmacHex(secret: string, body: string | Buffer): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export interface WebhookEnv {
  readonly h: Harness;
  readonly app: FastifyInstance;
  /** Every batch the routes wrote to the inbox, as they wrote it. */
  readonly written: NewEvent[][];
  readonly signatureFailures: Array<[string, string]>;
  readonly outcomes: Array<[string | null, string, string]>;
  /** Source events the scheduler has processed from the inbox, per source. */
  received(source: string): Promise<number>;
  close(): Promise<void>;
}

/**
 * The real server (`buildServer`) with the webhook routes plugged in, over the real engine and
 * SQLite store of the test harness. Slots 0: builds stay queued, only ingestion runs.
 */
export async function startWebhookEnv(
  p: Pipeline,
  extra: Partial<WebhookDeps> = {},
  opts: { readonly logger?: Logger } = {},
): Promise<WebhookEnv> {
  const h = await startHarness(p, { slots: 0 });
  const written: NewEvent[][] = [];
  const signatureFailures: Array<[string, string]> = [];
  const outcomes: Array<[string | null, string, string]> = [];
  const engine = h.engine;
  const routes = webhookRoutes({
    target: {
      ingestMany: (events) => {
        written.push([...events]);
        return engine.ingestMany(events);
      },
      get pipeline() {
        return engine.pipeline;
      },
    },
    onSignatureFailure: (kind, reason) => signatureFailures.push([kind, reason]),
    onEvent: (source, kind, outcome) => outcomes.push([source, kind, outcome]),
    ...extra,
  });
  const app = await buildServer({
    ...apiPorts(engine, h.store, h.bus),
    logger: opts.logger ?? pino({ level: 'silent' }),
    dataDir: h.dir,
    artifacts: {
      openRead: () => {
        throw new Error('no artifacts in ingest tests');
      },
    },
    readLog,
    tokenSha256: TOKEN_SHA256,
    readAuth: false,
    publicUrl: 'http://127.0.0.1',
    extraRoutes: [routes],
  });
  return {
    h,
    app,
    written,
    signatureFailures,
    outcomes,
    async received(source) {
      await h.decided();
      const s = (await h.store.read.listSources()).find((x) => x.name === source);
      return s?.eventsReceived ?? 0;
    },
    async close() {
      await app.close();
      await h.stop();
    },
  };
}
