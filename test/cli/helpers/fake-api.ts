import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApiBuild as Build } from '../../../src/api/types.js';
import { DIGEST, SHA, T0, makeBuild, makeDecision, makeDetail } from './builds.js';

export const TOKEN = 'sekrit-token';
export const ARTIFACT = Buffer.from('pretend this is a tarball\n'.repeat(100));

export interface FakeApi {
  readonly url: string;
  readonly requests: Array<{ method: string; url: string; auth: string | null }>;
  close(): Promise<void>;
}

/**
 * A stand-in for the nightless server that speaks docs/api.md with canned data, so the
 * CLI is tested as a real process without the real server. Scenarios:
 * - job `build`: trigger queues #43, which starts and passes over `/api/events?job=build`;
 * - job `flaky`: trigger queues #44, which fails;
 * - job `same`: trigger queues nothing (already built as #42);
 * - `/api/events` without a job: trace `app@3f2a1c0…` moves from running to passed.
 */
export async function startFakeApi(): Promise<FakeApi> {
  const requests: FakeApi['requests'] = [];
  const now = Date.now();
  const builds = new Map<number, Build>([
    [43, makeBuild({ id: 43, state: 'queued', startedAt: null, finishedAt: null, queuedAt: now })],
    [
      44,
      makeBuild({
        id: 44,
        job: 'flaky',
        state: 'queued',
        startedAt: null,
        finishedAt: null,
        queuedAt: now,
      }),
    ],
  ]);
  let traceState: 'running' | 'passed' = 'running';

  const server = createServer((req, res) => {
    requests.push({
      method: req.method ?? '',
      url: req.url ?? '',
      auth: req.headers.authorization ?? null,
    });
    route(req, res).catch((err: unknown) =>
      send(res, 500, { error: { code: 'NL_INTERNAL', message: String(err) } }),
    );
  });

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const path = url.pathname;
    const key = `${req.method} ${path}`;
    if (req.method === 'POST' && req.headers.authorization !== `Bearer ${TOKEN}`) {
      return send(res, 401, {
        error: { code: 'NL_UNAUTHORIZED', message: 'missing or invalid API token' },
      });
    }
    if (key === 'GET /api/jobs') {
      return send(res, 200, {
        jobs: [
          {
            name: 'build',
            inputs: ['app', 'glibc'],
            steps: 2,
            outputs: ['dist'],
            latest: makeBuild({
              state: 'failed',
              failedStep: 'npm test',
              reason: 'exit code 1',
              exitCode: 1,
            }),
            lastFinished: null,
          },
          {
            name: 'integration',
            inputs: ['build.dist'],
            steps: 1,
            outputs: [],
            latest: null,
            lastFinished: null,
          },
        ],
      });
    }
    if (key === 'GET /api/builds') {
      return send(res, 200, {
        builds: [
          makeBuild(),
          makeBuild({
            id: 41,
            state: 'skipped',
            relatedBuild: 40,
            reason: 'identical to build #40',
          }),
        ],
        next: 41,
      });
    }
    if (key === 'GET /api/sources') {
      return send(res, 200, {
        sources: [
          {
            name: 'app',
            kind: 'git',
            url: 'https://git.example.com/team/app.git',
            branches: ['main'],
            fallbackPollMs: 600_000,
            heads: [{ ref: 'main', version: SHA, at: Date.now() - 180_000, origin: 'webhook' }],
            nextCheckAt: Date.now() + 252_000,
            lastCheckAt: Date.now() - 348_000,
            lastCheckOk: true,
            lastError: null,
            pollFailures: 0,
            missedEvents: 2,
            eventsReceived: 118,
            lastEventAt: Date.now() - 180_000,
          },
        ],
      });
    }
    if (key === 'GET /api/why') {
      if (url.searchParams.get('job') !== 'build') {
        const which = url.searchParams.has('source') ? 'source' : 'job';
        return send(res, 404, {
          error: {
            code: 'NL_NOT_FOUND',
            message: `no ${which} ${url.searchParams.get(which)}`,
          },
        });
      }
      return send(res, 200, {
        job: 'build',
        decisions: [
          makeDecision({
            id: 2,
            rule: 'same-fingerprint',
            detail: 'build already built these inputs as build #42 (passed)',
            at: T0 + 60_000,
          }),
          makeDecision(),
        ],
      });
    }
    let m = /^\/api\/builds\/(\d+)$/.exec(path);
    if (req.method === 'GET' && m) {
      const id = Number(m[1]);
      if (id === 42) {
        return send(res, 200, {
          build: makeDetail({
            state: 'failed',
            failedStep: 'npm test',
            reason: 'exit code 1',
            exitCode: 1,
            coverage: { lines: 81.2, branches: 70.4, linesDelta: 1.3, branchesDelta: -0.2 },
            warnings: ['coverage report coverage/lcov.info not found'],
          }),
        });
      }
      const b = builds.get(id);
      if (b) return send(res, 200, { build: { ...makeDetail(), ...b } });
      return send(res, 404, { error: { code: 'NL_NOT_FOUND', message: `no build ${id}` } });
    }
    m = /^\/api\/builds\/(\d+)\/log$/.exec(path);
    if (m && Number(m[1]) === 42) {
      const lines = [
        { ts: T0 + 2000, stream: 'system', text: '▶ step 1/2: npm ci' },
        { ts: T0 + 3000, stream: 'stdout', text: 'added 120 packages' },
        { ts: T0 + 4000, stream: 'stderr', text: 'npm WARN deprecated' },
      ];
      if (req.headers.accept === 'text/event-stream' || url.searchParams.get('follow') === '1') {
        sse(res);
        for (const line of lines) {
          res.write(`event: line\ndata: ${JSON.stringify(line)}\n\n`);
          await delay(50);
        }
        res.write(': keep-alive\n\n');
        res.end(`event: end\ndata: ${JSON.stringify({ state: 'failed' })}\n\n`);
        return;
      }
      // Two pages, so the CLI's paging is exercised.
      const offset = Number(url.searchParams.get('offset') ?? '0');
      const page = offset === 0 ? lines.slice(0, 2) : lines.slice(2);
      return send(res, 200, {
        lines: page,
        nextOffset: offset === 0 ? 100 : 150,
        size: 150,
        done: true,
      });
    }
    m = /^\/api\/builds\/(\d+)\/artifacts\/([^/]+)$/.exec(path);
    if (m && Number(m[1]) === 42) {
      if (m[2] === 'dist') {
        res.writeHead(200, {
          'content-type': 'application/octet-stream',
          'content-disposition': 'attachment; filename="app-1.4.0.tgz"',
          'x-nightless-digest': createHash('sha256').update(ARTIFACT).digest('hex'),
        });
        res.end(ARTIFACT);
        return;
      }
      if (m[2] === 'reports') {
        return send(res, 200, {
          files: [{ path: 'junit/results.xml', digest: DIGEST, size: 2048 }],
        });
      }
      return send(res, 404, {
        error: { code: 'NL_NOT_FOUND', message: `build 42 has no output ${m[2]}` },
      });
    }
    m = /^\/api\/builds\/(\d+)\/cancel$/.exec(path);
    if (req.method === 'POST' && m) {
      const id = Number(m[1]);
      if (id !== 42)
        return send(res, 404, { error: { code: 'NL_NOT_FOUND', message: `no build ${id}` } });
      return send(res, 200, {
        build: makeBuild({ state: 'cancelled', reason: 'cancelled by api' }),
      });
    }
    m = /^\/api\/jobs\/([^/]+)\/trigger$/.exec(path);
    if (req.method === 'POST' && m) {
      const job = decodeURIComponent(m[1] ?? '');
      if (job === 'build') return send(res, 202, { build: builds.get(43), decisions: [] });
      if (job === 'flaky') return send(res, 202, { build: builds.get(44), decisions: [] });
      if (job === 'same') {
        return send(res, 202, {
          build: null,
          decisions: [
            makeDecision({
              job: 'same',
              rule: 'same-fingerprint',
              source: null,
              version: null,
              buildId: null,
              detail: 'same already built these inputs as build #42 (passed)',
            }),
          ],
        });
      }
      return send(res, 404, { error: { code: 'NL_NOT_FOUND', message: `no job ${job}` } });
    }
    if (key === 'GET /api/events') {
      sse(res);
      res.write(': hello\n\n');
      const job = url.searchParams.get('job');
      if (job === 'build' || job === 'flaky') {
        const id = job === 'build' ? 43 : 44;
        await delay(100);
        emit(res, 'started', update(id, { state: 'running', startedAt: Date.now() }));
        await delay(200);
        const finished: Partial<Build> =
          job === 'build'
            ? { state: 'passed', finishedAt: Date.now() }
            : {
                state: 'failed',
                finishedAt: Date.now(),
                failedStep: 'npm test',
                reason: 'exit code 1',
              };
        emit(res, 'finished', update(id, finished));
      } else if (job === null) {
        await delay(300);
        traceState = 'passed';
        emit(res, 'finished', makeBuild({ id: 50, state: 'passed' }));
      }
      return; // kept open, as the real stream is; the client hangs up
    }
    m = /^\/api\/trace\/([^/]+)\/([^/]+)$/.exec(path);
    if (key.startsWith('GET') && m) {
      const [source, prefix] = [decodeURIComponent(m[1] ?? ''), decodeURIComponent(m[2] ?? '')];
      if (source !== 'app' || !SHA.startsWith(prefix)) {
        return send(res, 404, {
          error: { code: 'NL_NOT_FOUND', message: `no version ${prefix} of ${source}` },
        });
      }
      const running = traceState === 'running';
      return send(res, 200, {
        source: 'app',
        version: SHA,
        nodes: [
          {
            build: makeBuild({ id: 50 }),
            via: { source: 'app', version: SHA },
            estimatedFinishAt: null,
            reused: null,
            expected: [],
            children: [
              {
                build: makeBuild({
                  id: 51,
                  job: 'integration',
                  state: running ? 'running' : 'passed',
                  finishedAt: running ? null : T0 + 200_000,
                }),
                via: { source: 'build.dist', version: DIGEST },
                estimatedFinishAt: running ? T0 + 300_000 : null,
                reused: null,
                expected: [],
                children: [],
              },
            ],
          },
          {
            build: makeBuild({ id: 52, job: 'lint' }),
            via: { source: 'app', version: SHA },
            estimatedFinishAt: null,
            reused: null,
            expected: [],
            children: [],
          },
        ],
      });
    }
    send(res, 404, { error: { code: 'NL_NOT_FOUND', message: `no route ${key}` } });
  }

  function update(id: number, patch: Partial<Build>): Build {
    const next = { ...(builds.get(id) ?? makeBuild({ id })), ...patch };
    builds.set(id, next);
    return next;
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function sse(res: ServerResponse): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
}

function emit(res: ServerResponse, type: string, build: Build): void {
  res.write(
    `event: build.${type}\nid: ${build.id}${type}\ndata: ${JSON.stringify({ type, build })}\n\n`,
  );
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
