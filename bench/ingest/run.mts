/**
 * Ingest bench: (1), (2) the real `startNightless` (SQLite, port 0 on 127.0.0.1, slots 0, logger
 * silent) driven from a child process (so the load generator does not share the server's event
 * loop): autocannon at full speed, and a fixed rate both evenly paced (open loop, latency from
 * each request's due time) and as autocannon's `overallRate` bursts; (3) `nightless serve` as its
 * own process. See bench/README.md.
 *
 *   npx tsx bench/ingest/run.mts [--duration-s=10] [--rate=500] [--connections=20]
 *                                [--sources=1000] [--idle-s=30] [--settle-s=30]
 *                                [--only=github,generic,idle] [--idle-cases=3a,3b,3c]
 *                                [--rate-runs=3] [--rate-only] [--paces=even,bursts]
 *                                [--no-baseline] [--tail] [--no-write] [--keep] [--root=DIR]
 *
 * (1) signed GitHub push deliveries to /hooks/github, each with its own X-GitHub-Delivery and
 *     `after` sha (every one a new event): sustained req/s for --duration-s with every 2xx
 *     checked in the inbox afterwards; p50/p99 latency at a fixed --rate;
 * (2) the same for /hooks/generic (an http source, a new `version` per request);
 * (3) idle cost of `nightless serve` (built to dist/, run as its own process) with --sources git
 *     sources at the default 10m fallback interval: CPU seconds per minute, the server's between
 *     checks (--settle-s after the first checks) plus one round of fallback checks (server and git
 *     processes, `POST /api/sources/poll`) spread over the 10 minutes; (3a) every source on one local bare
 *     repository (a monorepo: one ls-remote answers them all), (3b) each on its own repository
 *     (local paths: nightless reads their refs from the files), (3c) the same repositories as
 *     file:// URLs (git ls-remote through upload-pack, as for any remote); --idle-cases=3a,3b,3c.
 * Baselines in the same run: a bare fastify app answering 202 to the same POSTs (no signature
 * check, no storage), interleaved with the measured runs; an idle `node` process's CPU measured
 * over the same window as (3); for (3b) and (3c), the same `git ls-remote`s (of the local paths)
 * run by a shell.
 *
 * Prints a markdown table and writes it into bench/RESULTS.md (section "Ingest").
 */
import { benchArgs, requireBuilt, writeResultsSection } from '../lib/cli.mjs';
import { procCpu } from '../lib/proc-cpu.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import { watchOldGeneration, type OldGeneration } from './old-generation.mjs';
import { observeGc, startTailRecorder, tailReport, wallMs, type ClientStamps } from './tail.mjs';
import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createHmac } from 'node:crypto';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

const GITHUB_SECRET = 'bench-github-secret';
const GENERIC_SECRET = 'bench-generic-secret';
const REPO_URL = 'https://github.com/Codertocat/Hello-World.git';

// ---- the load generator (child process) ------------------------------------------------------

type Target = 'github' | 'generic';

interface LoadJob {
  readonly url: string;
  readonly target: Target;
  /** Delivery ids and versions start with it: distinct per run, so every request is new. */
  readonly prefix: string;
  readonly connections: number;
  readonly durationS: number;
  /** Requests per second over all connections; `null`: as fast as the server answers. */
  readonly rate: number | null;
  /**
   * How a fixed rate is sent. `even`: one request every 1/rate s, open loop (a request is sent
   * on time whether or not earlier ones were answered, queuing for one of `connections` sockets),
   * latency counted from its scheduled time, so a server stall counts for every request it
   * delayed. `bursts`: autocannon's `overallRate`, which lets each connection send its share of
   * the second back to back as soon as the second starts: 500 req/s arrives as ~100 ms bursts
   * at full speed with 10 in flight, then ~900 ms of nothing.
   */
  readonly pace?: 'even' | 'bursts';
  /** `even` pace: return every request's stamps (`--tail`, see tail.mts). */
  readonly stamps?: boolean;
}

interface LoadResult {
  readonly ok2xx: number;
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly sent: number;
  readonly durationS: number;
  readonly reqPerS: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** `even` pace: p99 and max of how late the generator sent a request after its due time (ms). */
  readonly lateP99?: number;
  readonly lateMax?: number;
  /** `even` pace with `LoadJob.stamps`: each request's due, connection and end times. */
  readonly stamps?: ClientStamps[];
  readonly statusCodes: Record<string, number>;
  /** Delivery ids of the requests answered 2xx (checked against the inbox afterwards). */
  readonly okIds: string[];
}

async function loadRole(): Promise<void> {
  const { default: autocannon } = await import('autocannon');
  const fixture = JSON.parse(
    readFileSync(join(root, 'test/fixtures/webhooks/github/push.json'), 'utf8'),
  ) as Record<string, unknown>;
  const MARK = 'X'.repeat(40);
  const [pushHead = '', pushTail = ''] = JSON.stringify({ ...fixture, after: MARK }).split(MARK);
  let n = 0;
  const hmac = (secret: string, body: string): string =>
    `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

  function request(job: LoadJob): {
    id: string;
    path: string;
    headers: Record<string, string>;
    body: string;
  } {
    const i = n++;
    const id = `${job.prefix}-${i}`;
    if (job.target === 'github') {
      // A distinct 40-hex sha per request: the run prefix's hash, then the counter.
      const sha = (job.prefix.replace(/[^0-9a-f]/g, '') + i.toString(16).padStart(12, '0'))
        .padStart(40, '0')
        .slice(-40);
      const body = pushHead + sha + pushTail;
      return {
        id,
        path: '/hooks/github',
        body,
        headers: {
          'content-type': 'application/json',
          'x-github-event': 'push',
          'x-github-delivery': id,
          'x-hub-signature-256': hmac(GITHUB_SECRET, body),
          'user-agent': 'GitHub-Hookshot/bench',
        },
      };
    }
    const body = JSON.stringify({ source: 'tool', version: id });
    return {
      id,
      path: '/hooks/generic',
      body,
      headers: {
        'content-type': 'application/json',
        'x-nightless-delivery': id,
        'x-nightless-signature-256': hmac(GENERIC_SECRET, body),
      },
    };
  }

  process.on('message', (msg: LoadJob | 'exit') => {
    if (msg === 'exit') process.exit(0);
    const job = msg;
    if (job.rate !== null && job.pace === 'even') {
      void evenLoad(job, job.rate, () => request(job)).then((r) => process.send?.(r));
      return;
    }
    const first = request(job);
    const okIds: string[] = [];
    // One request in flight per connection (no pipelining): a response answers the request
    // its connection built last.
    type Ctx = { lastId?: string };
    void autocannon({
      url: job.url,
      connections: job.connections,
      duration: job.durationS,
      ...(job.rate === null ? {} : { overallRate: job.rate }),
      timeout: 10,
      requests: [
        {
          method: 'POST',
          path: first.path,
          headers: first.headers,
          body: first.body,
          setupRequest: (req, context) => {
            const r = request(job);
            (context as Ctx).lastId = r.id;
            return { ...req, method: 'POST', path: r.path, headers: r.headers, body: r.body };
          },
          onResponse: (status, _body, context) => {
            const id = (context as Ctx).lastId;
            if (status >= 200 && status < 300 && id !== undefined) okIds.push(id);
          },
        },
      ],
    }).then((r) => {
      const codes: Record<string, number> = {};
      for (const [code, s] of Object.entries(r.statusCodeStats ?? {})) codes[code] = s.count ?? 0;
      const result: LoadResult = {
        ok2xx: r['2xx'],
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        sent: r.requests.sent,
        durationS: r.duration,
        reqPerS: r['2xx'] / r.duration,
        p50: r.latency.p50,
        p99: r.latency.p99,
        max: r.latency.max,
        statusCodes: codes,
        okIds,
      };
      process.send?.(result);
    });
  });
}

/**
 * Open-loop load at an even pace (see `LoadJob.pace`), the way wrk2 measures: request i is due
 * at t0 + i/rate; the latency is from that due time to the end of its response, in µs.
 */
async function evenLoad(
  job: LoadJob,
  rate: number,
  next: () => { id: string; path: string; headers: Record<string, string>; body: string },
): Promise<LoadResult> {
  const { build } = await import('hdr-histogram-js');
  const hist = () =>
    build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60e6,
      numberOfSignificantValueDigits: 3,
    });
  const latency = hist();
  /** How late the generator itself sent (due time → write): its own timer's slack. */
  const late = hist();
  const url = new URL(job.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: job.connections });
  const total = Math.round(rate * job.durationS);
  const intervalMs = 1000 / rate;
  const okIds: string[] = [];
  const stamps: ClientStamps[] = [];
  const statusCodes: Record<string, number> = {};
  let sent = 0;
  let answered = 0;
  let errors = 0;
  let timeouts = 0;
  const t0 = performance.now();
  await new Promise<void>((allDone) => {
    const settle = (): void => {
      if (++answered === total) allDone();
    };
    const fire = (due: number): void => {
      const r = next();
      const dueMs = performance.timeOrigin + due;
      const fired = wallMs();
      let socketMs = NaN;
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          path: r.path,
          method: 'POST',
          agent,
          timeout: 10_000,
          headers: { ...r.headers, 'content-length': Buffer.byteLength(r.body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            latency.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
            const code = res.statusCode ?? 0;
            statusCodes[code] = (statusCodes[code] ?? 0) + 1;
            if (code >= 200 && code < 300) okIds.push(r.id);
            if (job.stamps)
              stamps.push({ id: r.id, due: dueMs, fired, socket: socketMs, end: wallMs() });
            settle();
          });
        },
      );
      if (job.stamps) req.once('socket', () => (socketMs = wallMs()));
      req.on('timeout', () => {
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        errors++;
        settle();
      });
      req.end(r.body);
      late.recordValue(Math.max(1, Math.round((performance.now() - due) * 1000)));
    };
    const tick = (): void => {
      const now = performance.now();
      for (; sent < total && t0 + sent * intervalMs <= now; sent++) fire(t0 + sent * intervalMs);
      if (sent < total) setTimeout(tick, t0 + sent * intervalMs - performance.now());
    };
    tick();
  });
  const durationS = (performance.now() - t0) / 1000;
  agent.destroy();
  const ok2xx = okIds.length;
  const ms = (us: number): number => us / 1000;
  return {
    ok2xx,
    non2xx: answered - errors - ok2xx,
    errors,
    timeouts,
    sent,
    durationS,
    reqPerS: ok2xx / durationS,
    p50: ms(latency.getValueAtPercentile(50)),
    p99: ms(latency.getValueAtPercentile(99)),
    max: ms(latency.maxValue),
    lateP99: ms(late.getValueAtPercentile(99)),
    lateMax: ms(late.maxValue),
    ...(job.stamps ? { stamps } : {}),
    statusCodes,
    okIds,
  };
}

/**
 * `NL_BENCH_CPU_PROF=DIR`: a CPU profile of this process (the in-process server) during each
 * fixed-rate nightless run, written to DIR/<target>-<run>.cpuprofile (read it with
 * `bench/ingest/long-tasks.mts`); off by default, as the profiler costs CPU itself.
 * `NL_BENCH_HEAP_PROF=DIR`: V8's sampling heap profile of the same runs, counting the objects
 * young- and old-generation collections have already freed (what makes scavenges come), written
 * to DIR/<target>-<run>.heapprofile with the run's answered requests next to it (read it with
 * `bench/ingest/heap-sites.mts`).
 */
async function startProfile(): Promise<{ stop(name: string, requests: number): Promise<void> }> {
  const cpuDir = process.env['NL_BENCH_CPU_PROF'];
  const heapDir = process.env['NL_BENCH_HEAP_PROF'];
  if (!cpuDir && !heapDir) return { stop: () => Promise.resolve() };
  const { Session } = await import('node:inspector/promises');
  const session = new Session();
  session.connect();
  if (heapDir) {
    mkdirSync(heapDir, { recursive: true });
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', {
      samplingInterval: 4096,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
  if (cpuDir) {
    mkdirSync(cpuDir, { recursive: true });
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 200 });
    await session.post('Profiler.start');
  }
  // A 1 ms ticker on the profile's clock (monotonic µs): a gap between two ticks is a stretch
  // the event loop could not turn, and the samples inside it say what it was busy with.
  const ticks: number[] = [];
  const ticker = cpuDir
    ? setInterval(() => ticks.push(Number(process.hrtime.bigint() / 1000n)), 1)
    : undefined;
  const gc = observeGc();
  return {
    stop: async (name, requests) => {
      clearInterval(ticker);
      const gcs = gc.stop();
      const byKind = new Map<string, number[]>();
      for (const g of gcs) byKind.set(g.kind, [...(byKind.get(g.kind) ?? []), g.ms]);
      const heapMb = process.memoryUsage().heapUsed / 2 ** 20;
      log(
        `${name}: heap ${heapMb.toFixed(0)} MB; gc ${[...byKind]
          .map(
            ([k, ms]) =>
              `${k}: ${ms.length}×, max ${Math.max(...ms).toFixed(1)} ms, sum ${ms.reduce((a, b) => a + b, 0).toFixed(0)} ms`,
          )
          .join('; ')}`,
      );
      if (cpuDir) {
        const { profile } = await session.post('Profiler.stop');
        writeFileSync(join(cpuDir, `${name}.cpuprofile`), JSON.stringify(profile));
        writeFileSync(join(cpuDir, `${name}.ticks.json`), JSON.stringify(ticks));
      }
      if (heapDir) {
        const { profile } = await session.post('HeapProfiler.stopSampling');
        writeFileSync(join(heapDir, `${name}.heapprofile`), JSON.stringify(profile));
        writeFileSync(join(heapDir, `${name}.requests.json`), JSON.stringify({ requests }));
      }
      session.disconnect();
    },
  };
}

/** The idle-node baseline: a `node -e` that sleeps N ms and prints the CPU seconds it used. */
const IDLE_NODE = `const s = process.cpuUsage();
setTimeout(() => { const d = process.cpuUsage(s); console.log((d.user + d.system) / 1e6); },
  Number(process.argv[1]));`;

// ---- the bench (parent process) --------------------------------------------------------------

async function main(): Promise<void> {
  const { pino } = await import('pino');
  const { default: Fastify } = await import('fastify');
  const { default: Database } = await import('better-sqlite3');
  const { startNightless } = await import('../../src/app/start-nightless.js');
  // The server starts git from its spawn helper process: that process's CPU is the server's.
  const { processHelper } = await import('../../src/spawn/process-helper.js');
  /** CPU seconds of this process (the in-process server) and its spawn helper (not git's). */
  const serverCpuS = (): number => {
    const c = process.cpuUsage();
    const pid = processHelper.pid;
    return (c.user + c.system) / 1e6 + (pid === undefined ? 0 : procCpuOrZero(pid).self);
  };

  const args = benchArgs();
  const DURATION_S = Number(args.get('duration-s') ?? 10);
  const RATE = Number(args.get('rate') ?? 500);
  const CONNECTIONS = Number(args.get('connections') ?? 20);
  /** Consecutive fixed-rate runs (each nightless, then bare fastify): p99 in every one counts. */
  const RATE_RUNS = Number(args.get('rate-runs') ?? 3);
  /** `--paces=even,bursts`: how the fixed rate is sent (see `LoadJob.pace`); both by default. */
  const paces = (args.get('paces') ?? 'even,bursts').split(',') as ('even' | 'bursts')[];
  /** `--rate-only`: only the fixed-rate runs (no sustained / held-back runs). */
  const rateOnly = args.has('rate-only');
  const SOURCES = Number(args.get('sources') ?? 1000);
  const IDLE_S = Number(args.get('idle-s') ?? 30);
  const SETTLE_S = Number(args.get('settle-s') ?? 30);
  /** Which idle layouts to run: 3a one repository, 3b 1,000 local paths, 3c the same as file://. */
  const idleCases = new Set((args.get('idle-cases') ?? '3a,3b,3c').split(','));
  const only = new Set((args.get('only') ?? 'github,generic,idle').split(','));
  const keep = args.has('keep');
  /** `--root=DIR`: (3) serves from another built checkout (an older commit, for before/after). */
  const serverRoot = args.get('root') ?? root;
  /** `--no-baseline`: skip the bare-fastify runs (for profiling the server alone). */
  const withBaseline = !args.has('no-baseline');
  /** `--tail`: log where the slowest 1 % of each evenly paced nightless run waited (tail.mts). */
  const tail = args.has('tail');
  const logger = pino({ level: 'silent' });

  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  const loadBefore = loadAverage();
  const dirs: string[] = [];
  const tmp = async (name: string): Promise<string> => {
    const d = await mkdtemp(join(tmpdir(), `nightless-bench-ingest-${name}-`));
    dirs.push(d);
    return d;
  };

  const rows: FigureRow[] = [];
  const notes: string[] = [];

  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, NL_BENCH_ROLE: 'load' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const drive = (job: LoadJob): Promise<LoadResult> =>
    new Promise((resolve, reject) => {
      const onExit = (code: number | null): void =>
        reject(new Error(`load generator exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (m) => {
        child.off('exit', onExit);
        resolve(m as LoadResult);
      });
      child.send(job);
    });

  try {
    // ---- (1) and (2): webhook endpoints ----------------------------------------------------
    if (only.has('github') || only.has('generic')) {
      const dir = await tmp('hooks');
      // The payloads name a GitHub repository; the source must match it, but the bench talks to
      // 127.0.0.1 only: git resolves that URL to an empty local repository (the start-up check).
      const local = join(dir, 'hello.git');
      execFileSync('git', ['init', '-q', '--bare', local]);
      process.env.GIT_CONFIG_COUNT = '1';
      process.env.GIT_CONFIG_KEY_0 = `url.${local}.insteadOf`;
      process.env.GIT_CONFIG_VALUE_0 = REPO_URL;
      const config = join(dir, 'nightless.yaml');
      await writeFile(
        config,
        `version: 1
pipeline: bench-ingest
sources:
  app:
    git: ${REPO_URL}
    branch: main
    webhook_secret: ${GITHUB_SECRET}
    fallback_poll: off
  tool:
    http: http://127.0.0.1:9/tool.tar.gz
    allow_private: true
    webhook_secret: ${GENERIC_SECRET}
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    steps: ['true']
  package:
    inputs: [tool]
    steps: ['true']
`,
      );
      const nl = await startNightless({
        configPath: config,
        dataDir: join(dir, 'data'),
        host: '127.0.0.1',
        port: 0,
        slots: 0,
        logger,
        watchConfig: false,
      });
      const bare = Fastify({ logger: false, bodyLimit: 25 * 2 ** 20 });
      bare.post('/hooks/github', async (_req, reply) => reply.code(202).send({ accepted: 1 }));
      bare.post('/hooks/generic', async (_req, reply) => reply.code(202).send({ accepted: 1 }));
      const bareUrl = await bare.listen({ host: '127.0.0.1', port: 0 });
      const db = new Database(join(dir, 'data', 'nightless.db'), { readonly: true });
      const idsLike = db.prepare<[string], { d: string }>(
        'SELECT delivery_id AS d FROM events WHERE delivery_id LIKE ?',
      );
      /** Rows of a run in the inbox, and how many of its 2xx deliveries have none (lost). */
      const inbox = (target: Target, prefix: string, okIds: readonly string[]) => {
        // Delivery ids are stored as `github:<id>` and `generic:<id>/<source>`.
        const stored = new Set(
          idsLike.all(`${target}:${prefix}-%`).map((r) => r.d.replace(/^[a-z]+:|\/[^/]*$/g, '')),
        );
        return { rows: stored.size, lost: okIds.filter((id) => !stored.has(id)).length };
      };
      let run = 0;
      const skipped = {
        r: {
          ok2xx: 1,
          non2xx: 0,
          errors: 0,
          timeouts: 0,
          sent: 0,
          durationS: 1,
          reqPerS: NaN,
          p50: NaN,
          p99: NaN,
          max: NaN,
          statusCodes: {},
          okIds: [],
        } as LoadResult,
        prefix: '',
        cpuS: NaN,
        wall: NaN,
      };

      const measured = async (
        target: Target,
        rate: number | null,
        url: string,
        durationS = DURATION_S,
        pace: LoadJob['pace'] = 'bursts',
      ) => {
        if (url === bareUrl && !withBaseline) return skipped;
        const prefix = `r${Date.now().toString(16)}${(run++).toString(16)}`;
        const cpu0 = serverCpuS();
        const w0 = performance.now();
        const r = await drive({
          url,
          target,
          prefix,
          connections: rate === null ? CONNECTIONS : 10,
          durationS,
          rate,
          pace,
          stamps: tail && url === nl.url && pace === 'even',
        });
        const cpuS = serverCpuS() - cpu0;
        const wall = (performance.now() - w0) / 1000;
        return { r, prefix, cpuS, wall };
      };

      /** The fixed-rate row: p50 / p99 of every run, against bare fastify's p99 of the same run. */
      const fixedRow = (target: Target, pace: Pace, runs: readonly FixedRun[]): FigureRow => {
        const ratios = runs.map((f) => f.n.r.p99 / Math.max(f.b.r.p99, pace === 'even' ? 0.1 : 1));
        const eld = runs.map((f) => f.loop);
        return {
          figure:
            pace === 'even'
              ? `(${target === 'github' ? 1 : 2}) \`POST /hooks/${target}\` latency at ${RATE} req/s **evenly paced** (one request every ${f1(1000 / RATE)} ms, open loop, up to 10 connections, latency from each request's due time; ${DURATION_S} s), ${runs.length} consecutive runs: p50 / p99 per run; event-loop delay p99 / max and the share of time the loop was busy during each`
              : `… the same ${RATE} req/s **as autocannon sends it** (\`overallRate\`: each of 10 connections sends its 50 requests back to back when the second starts, so ~100 ms bursts at full speed, then idle), ${runs.length} consecutive runs`,
          target: 'p99 < 20 ms; p99 ≤ 5× bare in every run',
          measured: runs
            .map(
              (f, i) =>
                `${f1(f.n.r.p50)} / ${f1(f.n.r.p99)} ms (loop ${f1(eld[i]?.p99 ?? NaN)} / ${f0(eld[i]?.max ?? NaN)} ms, busy ${f0((eld[i]?.busy ?? NaN) * 100)} %)`,
            )
            .join('; '),
          // Without the bare runs (`--no-baseline`) half the target cannot be judged.
          met: withBaseline
            ? runs.every((f) => f.n.r.p99 < 20) && ratios.every((x) => x <= 5)
            : null,
          baseline: withBaseline
            ? runs.map((f) => `${f1(f.b.r.p50)} / ${f1(f.b.r.p99)} ms`).join('; ')
            : '— (`--no-baseline`)',
          ratio: withBaseline
            ? `${f1(Math.min(...ratios))}–${f1(Math.max(...ratios))}× (p99${pace === 'even' ? '' : '; bare p99 floored at 1 ms, autocannon counts whole ms'})`
            : '—',
        };
      };

      type Pace = NonNullable<LoadJob['pace']>;
      type FixedRun = {
        n: typeof skipped;
        b: typeof skipped;
        /** The event loop's delay during nightless's run (the server is this process). */
        loop: { p99: number; max: number; busy: number };
        oldGeneration: OldGeneration;
      };
      for (const target of ['github', 'generic'] as const) {
        if (!only.has(target)) continue;
        const path = `/hooks/${target}`;
        // Half as long as the others: the backlog it leaves takes the scheduler a while to drain.
        const heldS = Math.max(2, Math.round(DURATION_S / 2));
        // `--rate-only` skips the runs that come before the fixed-rate ones; its warm-up loads
        // nightless as long as they would have. A fresh database's first seconds of load also
        // grow its WAL file to the backstop checkpoint's high-water mark (file growth, not there
        // once the WAL starts over): in a 2 s warm-up that made the first fixed-rate run the
        // slowest of three (bench/RESULTS.md, "Ingest").
        const warmS = rateOnly ? DURATION_S + heldS : 2;
        log(`${target}: warm-up (${warmS} s)`);
        await drive({
          url: nl.url,
          target,
          prefix: `warm${target}`,
          connections: 10,
          durationS: warmS,
          rate: null,
        });
        if (withBaseline)
          await drive({
            url: bareUrl,
            target,
            prefix: `warmb${target}`,
            connections: 10,
            durationS: 2,
            rate: null,
          });
        await nl.engine.decided();

        log(`${target}: nightless, as fast as it answers (${DURATION_S}s, ${CONNECTIONS} conns)`);
        const max = rateOnly ? skipped : await measured(target, null, nl.url);
        const d0 = performance.now();
        await nl.engine.decided();
        const drainS = (performance.now() - d0) / 1000;
        const stored = inbox(target, max.prefix, max.r.okIds);
        log(`${target}: bare fastify, as fast as it answers`);
        const bareMax = rateOnly ? skipped : await measured(target, null, bareUrl);

        // The same load with the scheduler held back (it finds no pending events): what the
        // endpoint and the inbox alone absorb; then the backlog is released and drained.
        log(`${target}: nightless with the scheduler held back`);
        const pendingEvents = (): Promise<[]> => Promise.resolve([]);
        Object.assign(nl.store.scheduler, { pendingEvents });
        const held = rateOnly ? skipped : await measured(target, null, nl.url, heldS);
        delete (nl.store.scheduler as Partial<Record<'pendingEvents', unknown>>).pendingEvents;
        const heldStored = inbox(target, held.prefix, held.r.okIds);
        const h0 = performance.now();
        const hc0 = serverCpuS();
        await nl.engine.ingestMany([]); // wakes the scheduler
        await nl.engine.decided();
        const heldDrainS = (performance.now() - h0) / 1000;
        const heldDrainCpuUs = ((serverCpuS() - hc0) * 1e6) / Math.max(1, heldStored.rows);

        // The fixed rate, RATE_RUNS times in a row, each nightless run followed by bare fastify;
        // the event loop's delay is sampled during nightless's runs (the server is this process).
        const fixedRuns: Record<Pace, FixedRun[]> = { even: [], bursts: [] };
        let storedFixedLost = 0;
        for (let i = 0; i < RATE_RUNS; i++) {
          for (const pace of paces) {
            log(`${target}: nightless at ${RATE} req/s, ${pace} (run ${i + 1}/${RATE_RUNS})`);
            const eld = monitorEventLoopDelay({ resolution: 1 });
            eld.enable();
            const elu = performance.eventLoopUtilization();
            const prof = await startProfile();
            const recorder = tail && pace === 'even' ? startTailRecorder() : undefined;
            const old = watchOldGeneration();
            const n = await measured(target, RATE, nl.url, DURATION_S, pace);
            const oldGeneration = old.stop();
            const busy = performance.eventLoopUtilization(elu).utilization;
            const recording = recorder?.stop();
            if (recording && n.r.stamps)
              for (const line of tailReport(n.r.stamps, recording)) log(`${target}: ${line}`);
            await prof.stop(`${target}-${pace}-${i + 1}`, n.r.ok2xx);
            eld.disable();
            await nl.engine.decided();
            storedFixedLost += inbox(target, n.prefix, n.r.okIds).lost;
            log(`${target}: bare fastify at ${RATE} req/s, ${pace} (run ${i + 1}/${RATE_RUNS})`);
            const b = await measured(target, RATE, bareUrl, DURATION_S, pace);
            fixedRuns[pace].push({
              n,
              b,
              loop: { p99: eld.percentile(99) / 1e6, max: eld.max / 1e6, busy },
              oldGeneration,
            });
          }
        }
        const fixedAll = [...fixedRuns.even, ...fixedRuns.bursts].map((f) => f.n);
        const fixed = {
          r: {
            ok2xx: fixedAll.reduce((a, f) => a + f.r.ok2xx, 0),
            non2xx: fixedAll.reduce((a, f) => a + f.r.non2xx, 0),
            errors: fixedAll.reduce((a, f) => a + f.r.errors, 0),
          },
        };
        const storedFixed = { lost: storedFixedLost };
        const fixedRows = paces.map((pace) => fixedRow(target, pace, fixedRuns[pace]));
        for (const pace of paces) {
          // Per run, so a run's tail can be told from the generator's own stall (a 100 ms stall
          // is 1 % of one run's requests and far less of the three runs' together).
          const late = (r: LoadResult): string | null =>
            r.lateP99 === undefined || r.lateMax === undefined
              ? null
              : `${f1(r.lateP99)} / ${f1(r.lateMax)}`;
          const nl = fixedRuns[pace].map((f) => late(f.n.r));
          const bare = fixedRuns[pace].map((f) => late(f.b.r));
          const olds = fixedRuns[pace].map((f) => {
            const o = f.oldGeneration;
            const kib = o.grownBytes / 1024 / Math.max(1, f.n.r.ok2xx);
            const longest =
              o.majorMs.length > 0 ? `, longest ${f1(Math.max(...o.majorMs))} ms` : '';
            return `${f2(kib)} KiB (${o.majorMs.length} mark-compact${longest})`;
          });
          notes.push(
            `(${target === 'github' ? 1 : 2}) ${pace === 'even' ? 'evenly paced' : 'autocannon-paced'} runs: what entered V8's old generation per request (promoted or allocated there: it sets how often the old-generation collections, a run's longest pauses, come; \`old-generation.mts\`): ${olds.join('; ')}.`,
          );
          if (nl.every((x) => x !== null))
            notes.push(
              `(${target === 'github' ? 1 : 2}) evenly paced runs: how late the generator sent each request after its due time, p99 / max per run: ${nl.join('; ')} ms (nightless), ${bare.map((x) => x ?? '—').join('; ')} ms (bare fastify); counted in the latency, as for both servers.`,
            );
        }
        if (rateOnly) {
          rows.push(...fixedRows);
          continue;
        }

        const lost = stored.lost + storedFixed.lost + heldStored.lost;
        const perReqUs = (m: typeof max): number => (m.cpuS * 1e6) / Math.max(1, m.r.ok2xx);
        rows.push(
          {
            figure: `(${target === 'github' ? 1 : 2}) \`POST ${path}\`: sustained 2xx/s (${DURATION_S} s, ${CONNECTIONS} connections)`,
            target: '> 2,000/s',
            measured: `${f0(max.r.reqPerS)}/s`,
            met: max.r.reqPerS > 2000,
            baseline: `${f0(bareMax.r.reqPerS)}/s (bare fastify, 202, no check/storage)`,
            ratio: `${f2(max.r.reqPerS / bareMax.r.reqPerS)}×`,
          },
          {
            figure: '… every 2xx in the inbox afterwards',
            target: '0 lost',
            measured: `${max.r.ok2xx + fixed.r.ok2xx + held.r.ok2xx} 2xx (every run), each looked up by delivery id: ${lost} lost; non-2xx ${max.r.non2xx + fixed.r.non2xx + held.r.non2xx}, errors ${max.r.errors + fixed.r.errors + held.r.errors}`,
            met: lost === 0 && max.r.non2xx + fixed.r.non2xx + held.r.non2xx === 0,
            baseline: '—',
            ratio: '—',
          },
          {
            figure: `… the same with the scheduler held back (${heldS} s): what the endpoint + inbox absorb`,
            target: '—',
            measured: `${f0(held.r.reqPerS)}/s, ${f0(perReqUs(held))} µs CPU per request`,
            met: null,
            baseline: `${f0(bareMax.r.reqPerS)}/s`,
            ratio: `${f2(held.r.reqPerS / bareMax.r.reqPerS)}×`,
          },
          {
            figure:
              '… then the scheduler drains that backlog (each event queues a build, supersedes the last)',
            target: '—',
            measured: `${f0(heldStored.rows / heldDrainS)} events/s, ${f0(heldDrainCpuUs)} µs CPU per event (${heldStored.rows} in ${f1(heldDrainS)} s)`,
            met: null,
            baseline: '—',
            ratio: '—',
          },
          {
            figure:
              '… server CPU per request (user + sys, whole process incl. scheduling, and its spawn helper; not git)',
            target: '—',
            measured: `${f0(perReqUs(max))} µs`,
            met: null,
            baseline: `${f0(perReqUs(bareMax))} µs`,
            ratio: `${f1(perReqUs(max) / perReqUs(bareMax))}×`,
          },
          ...fixedRows,
        );
        notes.push(
          `(${target === 'github' ? 1 : 2}) max run: ${max.r.ok2xx} 2xx in ${f1(max.r.durationS)} s, p50 / p99 ${f1(max.r.p50)} / ${f1(max.r.p99)} ms (max ${f0(max.r.max)} ms), server CPU ${f1(max.cpuS)} s over ${f1(max.wall)} s (${f0((100 * max.cpuS) / max.wall)} % of a core); scheduler drained the backlog (${stored.rows} events, each queuing a build and superseding the previous one) ${f1(drainS)} s after the load stopped. Status codes: ${JSON.stringify(max.r.statusCodes)}; bare fastify p50 / p99 ${f1(bareMax.r.p50)} / ${f1(bareMax.r.p99)} ms.`,
        );
      }
      db.close();
      await bare.close();
      await nl.stop();
    }

    // ---- (3): idle cost ------------------------------------------------------------------
    if (only.has('idle')) {
      const dir = await tmp('idle');
      const work = join(dir, 'work');
      const gitc = (cwd: string, ...a: string[]): string =>
        execFileSync(
          'git',
          [
            '-c',
            'user.name=b',
            '-c',
            'user.email=b@example.com',
            '-c',
            'init.defaultBranch=main',
            ...a,
          ],
          { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
        ).trim();
      gitc(dir, 'init', '-q', work);
      writeFileSync(join(work, 'README'), 'idle\n');
      gitc(work, 'add', 'README');
      gitc(work, 'commit', '-q', '-m', 'first');
      const shared = join(dir, 'repo.git');
      gitc(dir, 'clone', '-q', '--bare', work, shared);
      // (3b): one repository per source, copies of the first (a copy is a valid bare repository).
      const repos = Array.from({ length: SOURCES }, (_, i) => join(dir, 'repos', `r${i}.git`));
      for (const r of repos) cpSync(shared, r, { recursive: true });

      // The floor for (3b): the same SOURCES `git ls-remote`s run by a shell, no nightless.
      const list = join(dir, 'repos.txt');
      writeFileSync(list, `${repos.join('\n')}\n`);
      log(`idle: baseline, ${SOURCES} git ls-remote from a shell`);
      const floor = childCpu(() =>
        execFileSync(
          'sh',
          [
            '-c',
            'while read -r r; do git ls-remote --heads -- "$r" >/dev/null; done < "$1"',
            'sh',
            list,
          ],
          { stdio: 'ignore' },
        ),
      );

      if (serverRoot === root) {
        log('idle: building dist/ (the server runs as `node bin/nightless.js serve`)');
        execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
      } else {
        requireBuilt(serverRoot);
      }

      const layouts = [
        { label: '3a', layout: 'one repository' },
        { label: '3b', layout: `${SOURCES} repositories (local paths)` },
        // The same repositories through git's remote protocol (upload-pack), as any remote is.
        { label: '3c', layout: `${SOURCES} repositories as file:// URLs` },
      ].filter((l) => idleCases.has(l.label));
      for (const { label, layout } of layouts) {
        const lines = ['version: 1', 'pipeline: bench-idle', 'sources:'];
        for (let i = 0; i < SOURCES; i++) {
          const path = label === '3a' ? shared : (repos[i] as string);
          const repo = label === '3c' ? `file://${path}` : path;
          lines.push(`  s${i}:`, `    git: ${repo}`, '    branch: main');
        }
        lines.push('jobs:');
        for (let i = 0; i < SOURCES; i++)
          lines.push(`  j${i}:`, `    inputs: [s${i}]`, `    steps: ['true']`);
        const config = join(dir, `nightless-${label}.yaml`);
        await writeFile(config, `${lines.join('\n')}\n`);

        log(
          `idle (${label}): \`nightless serve\` with ${SOURCES} git sources on ${layout} (fallback_poll default)`,
        );
        const dataDir = join(dir, `data-${label}`);
        // The server makes its own token (in <data-dir>/token) unless one is in the environment.
        const { NIGHTLESS_TOKEN: _ignored, ...withoutToken } = process.env;
        const port = await freePort();
        const w0 = performance.now();
        // `--trace-gc` (one line per collection on stdout) shows when V8's memory reducer runs:
        // a few full collections once the process turns quiet after a burst of work (start-up,
        // a round of checks), ~0.3 CPU-s with V8's helper threads, 30–110 s after the burst.
        // The window between checks begins after the start-up ones; any that follow the round
        // are counted with the round (a round is such a burst too).
        const server = spawn(
          process.execPath,
          [
            '--trace-gc',
            join(serverRoot, 'bin', 'nightless.js'),
            'serve',
            '-c',
            config,
            '-d',
            dataDir,
            '--port',
            String(port),
            '--slots',
            '0',
            '--log-level',
            'error',
            '--no-watch',
          ],
          { stdio: ['ignore', 'pipe', 'inherit'], env: withoutToken },
        );
        const pid = server.pid ?? 0;
        let reduced = 0;
        /** The main thread's isolate: the first to collect (the WAL worker's starts later). */
        let mainIsolate: string | undefined;
        createInterface({ input: server.stdout }).on('line', (line) => {
          const isolate = /^\[\d+:(0x[0-9a-f]+)\]/.exec(line)?.[1];
          mainIsolate ??= isolate;
          if (isolate === mainIsolate && line.includes('Mark-Compact (reduce)')) reduced++;
        });
        /** Waits (at most 120 s) for a memory-reducing collection after the `seen`th; then 3 s. */
        const reducerAfter = async (seen: number): Promise<boolean> => {
          for (let i = 0; i < 480 && reduced <= seen; i++) await sleep(250);
          await sleep(3000);
          return reduced > seen;
        };
        const exited = new Promise<void>((resolve) => server.on('exit', () => resolve()));
        const api = `http://127.0.0.1:${port}`;
        let checked = 0;
        let failed = 0;
        let nextChecks: number[] = [];
        for (;;) {
          const list = await fetch(`${api}/api/sources`, { signal: AbortSignal.timeout(10_000) })
            .then((r) => r.json() as Promise<{ sources: SourceRow[] }>)
            .then((b) => b.sources)
            .catch(() => [] as SourceRow[]);
          checked = list.filter((s) => s.lastCheckAt !== null).length;
          failed = list.filter((s) => s.lastCheckOk === false).length;
          nextChecks = list.map((s) => s.nextCheckAt).filter((x): x is number => x !== null);
          if (checked >= SOURCES || performance.now() - w0 > 180_000) break;
          await sleep(250);
        }
        const initialS = (performance.now() - w0) / 1000;
        const initial = treeCpu(pid);
        const firstNext = Math.min(...nextChecks) - Date.now();
        // The versions the first checks found are fetched into their mirrors (the start-early
        // fetch: here 1,000 clones): start-up work, not idle. Wait for the git processes to end.
        const c0Start = performance.now();
        for (let i = 0; i < 1_200 && gitDescendants(pid) > 0; i++) await sleep(250);
        const clonesS = (performance.now() - c0Start) / 1000;
        log(
          `idle (${label}): ${checked} checked (${failed} failed) in ${f1(initialS)} s; git of the start-early fetches done ${f1(clonesS)} s later; settling ${SETTLE_S} s and until V8's memory reducer has run`,
        );
        await sleep(SETTLE_S * 1000);
        const settledAfterReducer = reduced > 0 || (await reducerAfter(0));
        const reducedBeforeWindow = reduced;

        log(`idle (${label}): measuring CPU for ${IDLE_S} s (and an idle node process alongside)`);
        const idleNode = spawn(process.execPath, ['-e', IDLE_NODE, String(IDLE_S * 1000)]);
        let idleOut = '';
        idleNode.stdout.setEncoding('utf8').on('data', (d: string) => (idleOut += d));
        const idleDone = new Promise<void>((resolve) => idleNode.on('close', () => resolve()));
        const c0 = treeCpu(pid);
        const iw0 = performance.now();
        await sleep(IDLE_S * 1000);
        const c1 = treeCpu(pid);
        const iwall = (performance.now() - iw0) / 1000;
        await idleDone;
        const backgroundPerMin = (c1.self - c0.self + c1.children - c0.children) * (60 / iwall);
        const reducedInWindow = reduced - reducedBeforeWindow;
        const basePerMin = Number(idleOut.trim()) * (60 / IDLE_S);

        // One round of every source's fallback check, as the timer runs it every 10 minutes
        // (the same grouping: sources on one repository share an ls-remote), measured directly.
        log(`idle (${label}): one round of fallback checks`);
        const token = readFileSync(join(dataDir, 'token'), 'utf8').trim();
        const r0 = treeCpu(pid);
        const rw0 = performance.now();
        const res = await fetch(`${api}/api/sources/poll`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          signal: AbortSignal.timeout(300_000),
        });
        if (!res.ok) throw new Error(`POST /api/sources/poll: ${res.status} ${await res.text()}`);
        const { polls: outcomes } = (await res.json()) as { polls: Array<{ ok: boolean }> };
        const roundWall = (performance.now() - rw0) / 1000;
        // The memory reducer's collections after the round are the round's too: its CPU until
        // then, less what the server spends between checks over that time.
        const reducerAfterRound = await reducerAfter(reduced);
        const r1 = treeCpu(pid);
        const afterRoundS = (performance.now() - rw0) / 1000 - roundWall;
        const roundServerS = r1.self - r0.self - (backgroundPerMin / 60) * afterRoundS;
        const roundGitS = r1.children - r0.children;
        const roundsPerMin = 1 / 10; // the default fallback_poll, 10m
        const perMin = backgroundPerMin + (roundServerS + roundGitS) * roundsPerMin;
        const floorPerMin = label === '3a' ? null : floor * roundsPerMin;
        rows.push(
          {
            figure: `(${label}) idle server, ${SOURCES} git sources on ${layout}, fallback 10m: CPU per minute incl. the fallback checks (server + git)`,
            target: '< 0.6 CPU-s/min (1 % of a core)',
            measured: `${f3(perMin)} CPU-s/min (${f2((100 * perMin) / 60)} % of a core) = ${f3(backgroundPerMin)} between checks + one round of checks (${f2(roundServerS)} CPU-s server + ${f2(roundGitS)} CPU-s git) / 10 min`,
            met: perMin < 0.6,
            baseline:
              floorPerMin === null
                ? `${f3(basePerMin)} CPU-s/min (idle \`node -e\`)`
                : `${f3(floorPerMin)} CPU-s/min (${SOURCES} \`git ls-remote\` from a shell every 10 min, no nightless: ${f2(floor)} CPU-s a round)`,
            ratio:
              floorPerMin === null
                ? basePerMin > 0
                  ? `${f1(perMin / basePerMin)}×`
                  : '—'
                : `${f2(perMin / floorPerMin)}×`,
          },
          {
            figure: `(${label}) start + first check of the ${SOURCES} sources (events, scheduling ${SOURCES} builds)`,
            target: '—',
            measured: `${f1(initialS)} s wall, ${f1(initial.self)} CPU-s server + ${f1(initial.children)} CPU-s git`,
            met: null,
            baseline: '—',
            ratio: '—',
          },
        );
        log(
          `idle (${label}): ${rows.at(-2)?.measured ?? ''}; baseline ${rows.at(-2)?.baseline ?? ''}`,
        );
        notes.push(
          `(${label}) \`node bin/nightless.js serve --slots 0\` (built from ${serverRoot === root ? 'this tree' : serverRoot}): ${checked} of ${SOURCES} sources checked (${failed} failed) ${f1(initialS)} s after the spawn; the earliest next check was ${f0(firstNext / 1000)} s away, so none fell in the ${IDLE_S} s window measured between checks, which began ${SETTLE_S} s after the first checks and ${settledAfterReducer ? `after V8's memory-reducing collections (${reducedBeforeWindow} by then; ${reducedInWindow} in the window)` : `without V8's memory-reducing collection having run (none within 120 s)`} (idle \`node -e\` alongside: ${f3(basePerMin)} CPU-s/min). The round (\`POST /api/sources/poll\`): ${outcomes.length} checks (${outcomes.filter((o) => !o.ok).length} failed) in ${f1(roundWall)} s; its server CPU ${reducerAfterRound ? `includes the memory-reducing collections that followed it (${f1(afterRoundS)} s later, less the between-checks rate over that time)` : `is counted until 120 s after it (no memory-reducing collection followed), less the between-checks rate over that time`}. CPU is read from \`/proc/<pid>/stat\` of the server and of its live child processes (the spawn helper that starts git): utime + stime (all their threads) as the server's, cutime + cstime (the git processes they ran) as git's.`,
        );
        server.kill('SIGTERM');
        await exited;
      }
    }
  } finally {
    child.send('exit');
    // A stopped server's helper may still be ending a mirror clone: retry, and never lose the
    // figures to a directory left behind.
    if (!keep)
      for (const d of dirs)
        await rm(d, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 }).catch(
          (err: unknown) => log(`could not remove ${d}: ${String(err)}`),
        );
  }

  const table = figureTable(rows);
  const report = [
    `Latest run: ${startedAt} — ${machine()}; load average (1/5/15 min) ${loadBefore} at start, ${loadAverage()} at end; total ${f1((performance.now() - t0) / 1000)} s; command: \`npx tsx bench/ingest/run.mts ${process.argv.slice(2).join(' ')}\`. Load from autocannon ${autocannonVersion()} in a child process over 127.0.0.1.`,
    '',
    table,
    '',
    ...notes.map((n) => `- ${n}`),
  ].join('\n');
  process.stdout.write(`${report}\n`);

  if (!args.has('no-write')) {
    log(`wrote ${writeResultsSection('ingest', '## Ingest (bench/ingest)', report)}`);
  }
}

// ---- small helpers ---------------------------------------------------------------------------

/** `procCpu`, or zeros for a process that is gone. */
function procCpuOrZero(pid: number): { self: number; children: number } {
  try {
    return procCpu(pid);
  } catch {
    return { self: 0, children: 0 };
  }
}

/**
 * Live processes below `pid`'s children (git started by the server's spawn helper), less the
 * armed fetches (`git fetch --stdin`, docs/executor.md): they wait on a pipe, using no CPU, for
 * up to ten minutes.
 */
function gitDescendants(pid: number): number {
  const childrenOf = (p: number): number[] => {
    try {
      return readdirSync(`/proc/${p}/task`).flatMap((t) =>
        readFileSync(`/proc/${p}/task/${t}/children`, 'utf8')
          .split(' ')
          .filter(Boolean)
          .map(Number),
      );
    } catch {
      return [];
    }
  };
  const armed = (p: number): boolean => {
    try {
      return readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').includes('--stdin');
    } catch {
      return false;
    }
  };
  return childrenOf(pid).reduce((n, k) => n + childrenOf(k).filter((g) => !armed(g)).length, 0);
}

/**
 * `procCpu` of a process plus that of its live child processes (the server's spawn helper):
 * `self` is theirs, `children` the exited programs they ran (git). A child that exits moves its
 * total into the parent's `children`.
 */
function treeCpu(pid: number): { self: number; children: number } {
  const total = procCpu(pid);
  let kids: number[] = [];
  try {
    const tasks = readdirSync(`/proc/${pid}/task`);
    kids = tasks.flatMap((t) =>
      readFileSync(`/proc/${pid}/task/${t}/children`, 'utf8')
        .split(' ')
        .filter(Boolean)
        .map(Number),
    );
  } catch {
    // the process is gone, or the kernel lists no children: the process alone
  }
  for (const k of kids) {
    const c = procCpuOrZero(k);
    total.self += c.self;
    total.children += c.children;
  }
  return total;
}

/** CPU seconds that `run`'s child processes used. */
function childCpu(run: () => unknown): number {
  const before = procCpu('self').children;
  run();
  return procCpu('self').children - before;
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

interface SourceRow {
  readonly lastCheckAt: number | null;
  readonly lastCheckOk: boolean | null;
  readonly nextCheckAt: number | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
const f0 = (n: number): string => Math.round(n).toLocaleString('en-US');
const f1 = (n: number): string => n.toFixed(1);
const f2 = (n: number): string => n.toFixed(2);
const f3 = (n: number): string => n.toFixed(3);

function autocannonVersion(): string {
  const pkg = JSON.parse(
    readFileSync(join(root, 'node_modules/autocannon/package.json'), 'utf8'),
  ) as { version?: string };
  return pkg.version ?? '?';
}

if (process.env['NL_BENCH_ROLE'] === 'load') await loadRole();
else await main();
