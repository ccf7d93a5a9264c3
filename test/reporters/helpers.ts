import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import type { ReportDef } from '../../src/core/pipeline.js';
import type { RunObserver, RunResult, RunSpec } from '../../src/executor/port.js';
import { ReportDispatcher, type DispatcherDeps } from '../../src/reporters/dispatcher.js';
import type { Store } from '../../src/store/ports.js';
import { startHarness, type Harness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { ScriptedExecutor } from '../../src/testing/scripted-executor.js';

export const quiet = pino({ level: 'silent' });
export const PUBLIC_URL = 'http://ci.example.test';
export const REPO_URL = 'https://git.example.com/team/app.git';
export const SHA = (n: number) => n.toString(16).padStart(40, 'a');

/** Passing builds report line coverage 80 + build id, so deltas are +1.0 build over build. */
export class CoverageExecutor extends ScriptedExecutor {
  override async run(
    spec: RunSpec,
    observer: RunObserver,
    signal: AbortSignal,
  ): Promise<RunResult> {
    const r = await super.run(spec, observer, signal);
    return r.state === 'passed'
      ? { ...r, coverage: { lines: 80 + spec.buildId, branches: 50 } }
      : r;
  }
}

export interface Reporting {
  readonly h: Harness;
  readonly store: Store;
  readonly dispatcher: ReportDispatcher;
  stop(): Promise<void>;
}

/**
 * The engine (harness: real SQLite, scripted executor) plus a dispatcher delivering pipeline
 * `shop`'s outbox to `reports`, with test-sized backoffs. Job `build` consumes git source `app`.
 */
export async function startReporting(
  reports: readonly ReportDef[],
  extra: Partial<DispatcherDeps> = {},
): Promise<Reporting> {
  const p = {
    ...pipeline({
      name: 'shop',
      sources: { app: git('main', { url: REPO_URL }) },
      jobs: { build: job({ inputs: ['app'], outputs: { dist: 'dist/*.tgz' } }) },
    }),
    reports,
  };
  const h = await startHarness(p, { slots: 1, executor: new CoverageExecutor() });
  const store = h.store;
  const dispatcher = new ReportDispatcher({
    outbox: store.outbox,
    deliveries: store.deliveries,
    reads: store.read,
    logger: quiet,
    bus: h.bus,
    publicUrl: () => PUBLIC_URL,
    buildUrl: (id) => `${PUBLIC_URL}/builds/${id}`,
    retry: { initialMs: 40, maxMs: 200 },
    reconnect: { initialMs: 50, maxMs: 300 },
    pollMs: 200,
    ...extra,
  });
  await dispatcher.sync(p, 0);
  return {
    h,
    store,
    dispatcher,
    async stop() {
      await dispatcher.stop();
      await h.stop();
    },
  };
}

export interface Received {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: string;
  readonly at: number;
}

/** A local HTTP receiver that records every request; `answer` decides the response. */
export class Receiver {
  readonly requests: Received[] = [];
  private server: Server | null = null;

  constructor(
    public answer: (r: Received, res: ServerResponse) => void = (_r, res) => {
      res.writeHead(204).end();
    },
  ) {}

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = {
          method: req.method ?? '',
          url: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          at: Date.now(),
        };
        this.requests.push(r);
        this.answer(r, res);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) =>
      this.server ? this.server.close(() => resolve()) : resolve(),
    );
  }
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export function webhook(
  url: string,
  over: Partial<Extract<ReportDef, { kind: 'webhook' }>> = {},
): ReportDef {
  return {
    kind: 'webhook',
    url,
    secret: 'qe-secret',
    connectTimeoutMs: 3_000,
    timeoutMs: 10_000,
    maxAttempts: 3,
    followRedirects: false,
    // The receivers of these tests listen on 127.0.0.1: loopback needs the opt-in.
    allowPrivate: true,
    ...over,
  };
}
