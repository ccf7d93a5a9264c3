/**
 * Outbox bench: how fast build events leave nightless. See bench/README.md ("Outbox").
 *
 *   npx tsx bench/outbox/run.mts [--only=a,b] [--events=5000] [--builds=300] [--no-write]
 *
 * (a) finished-build events delivered per second to RabbitMQ (127.0.0.1:5672 or
 *     $NIGHTLESS_TEST_AMQP_URL) with publisher confirms, by the real dispatcher reading a real
 *     SQLite outbox; baseline: raw amqplib confirm-channel publishing of the same bodies.
 * (b) latency from a build's finish (its `finishedAt`) to a local webhook receiver having the
 *     signed `finished` event, through the real engine (ScriptedExecutor, 1 slot), outbox relay,
 *     bus wake and dispatcher; baseline: a raw keep-alive POST loop to the same receiver.
 */
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { loadAverage, machine } from '../lib/report.mjs';
import { createServer, Agent, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { connect } from 'amqplib';
import { pino } from 'pino';
import type { Build } from '../../src/core/build.js';
import type { ReportDef } from '../../src/core/pipeline.js';
import { ReportDispatcher } from '../../src/reporters/dispatcher.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const args = benchArgs();
const only = new Set((args.get('only') ?? 'a,b').split(','));
const EVENTS = Number(args.get('events') ?? 5000);
const BUILDS = Number(args.get('builds') ?? 300);
const AMQP_URL = process.env.NIGHTLESS_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
const quiet = pino({ level: 'silent' });
const log = (s: string) => process.stderr.write(`${s}\n`);

interface Row {
  readonly id: string;
  readonly figure: string;
  readonly measured: string;
  readonly baseline: string;
  readonly target: string;
  readonly verdict: string;
}
const rows: Row[] = [];

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}

function sampleBuild(id: number, now: number): Build {
  return {
    id,
    job: 'build',
    state: 'passed',
    fingerprint: 'f'.repeat(64),
    inputs: [
      {
        source: 'app',
        version: id.toString(16).padStart(40, '0'),
        origin: 'webhook',
        eventId: id,
        ref: 'main',
      },
    ],
    cause: { kind: 'version', source: 'app', version: id.toString(16), eventId: id },
    forced: false,
    queuedAt: now - 60_000,
    startedAt: now - 50_000,
    finishedAt: now,
    failedStep: null,
    reason: null,
    failureClass: null,
    relatedBuild: null,
    exitCode: null,
    coverage: { lines: 81.2, branches: 64.5, linesDelta: 0.3, branchesDelta: null },
    attempt: 1,
    concurrencyGroup: 'build@main',
  };
}

/** (a) the dispatcher draining EVENTS finished rows to RabbitMQ vs raw confirm-channel publishing. */
async function scenarioA(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'nightless-bench-outbox-'));
  const exchange = `nightless-bench-${process.pid}`;
  const model = await connect(AMQP_URL);
  const ch = await model.createConfirmChannel();
  await ch.assertExchange(exchange, 'topic', { durable: false });
  const q = await ch.assertQueue('', { exclusive: true });
  await ch.bindQueue(q.queue, exchange, '*.build.finished');
  let received = 0;
  await ch.consume(q.queue, () => void (received += 1), { noAck: true });
  try {
    const store = await openSqliteStore({ path: join(dir, 'state.db') });
    const raw = new BetterSqlite3(join(dir, 'state.db'));
    const insert = raw.prepare(
      'insert into outbox (build_id, type, payload, created_at) values (?, ?, ?, ?)',
    );
    const now = Date.now();
    const bodies: string[] = [];
    raw.transaction(() => {
      for (let i = 1; i <= EVENTS; i++) {
        const payload = JSON.stringify(sampleBuild(i, now));
        bodies.push(payload);
        insert.run(i, 'finished', payload, now);
      }
    })();
    raw.close();

    // Baseline: raw amqplib, same exchange, batches of 200 with waitForConfirms.
    const t0 = performance.now();
    for (let i = 0; i < bodies.length; i += 200) {
      for (const b of bodies.slice(i, i + 200))
        ch.publish(exchange, 'bench.build.finished', Buffer.from(b), { persistent: true });
      await ch.waitForConfirms();
    }
    const baseRate = bodies.length / ((performance.now() - t0) / 1000);
    while (received < bodies.length) await new Promise((r) => setTimeout(r, 10));
    received = 0;

    const report: ReportDef = { kind: 'amqp', url: AMQP_URL, exchange };
    const dispatcher = new ReportDispatcher({
      outbox: store.outbox,
      deliveries: store.deliveries,
      reads: store.read,
      logger: quiet,
      publicUrl: () => 'http://ci.bench',
      buildUrl: (id) => `http://ci.bench/builds/${id}`,
      pollMs: 50,
    });
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    await dispatcher.sync(
      { ...pipeline({ name: 'bench', jobs: { build: job() } }), reports: [report] },
      0,
    );
    await dispatcher.drained(120_000);
    const secs = (performance.now() - t1) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const rate = EVENTS / secs;
    while (received < EVENTS) await new Promise((r) => setTimeout(r, 10));
    await dispatcher.stop();
    await store.close();
    rows.push({
      id: 'a',
      figure: `${EVENTS} finished events → RabbitMQ, persistent, publisher confirms (dispatcher from the SQLite outbox)`,
      measured: `${Math.round(rate)}/s (${(secs * 1000).toFixed(0)} ms; CPU ${((cpu.user + cpu.system) / 1000 / EVENTS).toFixed(3)} ms/event)`,
      baseline: `raw amqplib confirm channel: ${Math.round(baseRate)}/s`,
      target: '> 1,000/s',
      verdict: rate > 1000 ? 'met' : 'missed',
    });
    log(`(a) ${Math.round(rate)}/s vs raw ${Math.round(baseRate)}/s`);
  } finally {
    await ch.deleteExchange(exchange).catch(() => undefined);
    await model.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** (b) build finish → webhook receiver latency, through the whole engine, vs a raw POST loop. */
async function scenarioB(): Promise<void> {
  const latencies: number[] = [];
  let waiting: (() => void) | null = null;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = Date.now();
      res.writeHead(204).end();
      if (req.headers['x-nightless-event'] !== 'dev.nightless.build.finished') return;
      const e = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        data: { finishedAt: string };
      };
      latencies.push(at - Date.parse(e.data.finishedAt));
      waiting?.();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;

  // Baseline: raw keep-alive POSTs of a same-sized body, one at a time.
  const agent = new Agent({ keepAlive: true });
  const body = JSON.stringify({
    data: { finishedAt: new Date().toISOString() },
    pad: 'x'.repeat(1200),
  });
  const raw: number[] = [];
  for (let i = 0; i < BUILDS; i++) {
    const t = performance.now();
    await new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        { method: 'POST', agent, headers: { 'content-type': 'application/json' } },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
    raw.push(performance.now() - t);
  }
  agent.destroy();

  const p = {
    ...pipeline({
      name: 'bench',
      sources: { app: git() },
      jobs: { build: job({ inputs: ['app'] }) },
    }),
    reports: [
      {
        kind: 'webhook',
        url,
        secret: 'bench-secret',
        connectTimeoutMs: 3000,
        timeoutMs: 10_000,
        maxAttempts: 8,
        followRedirects: false,
        allowPrivate: true, // the receiver is on 127.0.0.1
      } satisfies ReportDef,
    ],
  };
  const h = await startHarness(p, { slots: 1 });
  const store = h.store;
  const dispatcher = new ReportDispatcher({
    outbox: store.outbox,
    deliveries: store.deliveries,
    reads: store.read,
    logger: quiet,
    bus: h.bus,
    publicUrl: () => 'http://ci.bench',
    buildUrl: (id) => `http://ci.bench/builds/${id}`,
  });
  await dispatcher.sync(p, 0);
  try {
    for (let i = 1; i <= BUILDS; i++) {
      const got = new Promise<void>((r) => (waiting = r));
      await h.push('app', i.toString(16).padStart(40, '0'));
      await got;
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await dispatcher.stop();
    await h.stop();
    server.closeAllConnections();
    server.close();
  }
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  rows.push({
    id: 'b',
    figure: `${BUILDS} builds: build finished → signed \`finished\` CloudEvent at a local webhook receiver (engine, outbox, bus wake, dispatcher)`,
    measured: `p50 ${p50} ms, p99 ${p99} ms, max ${Math.max(...latencies)} ms`,
    baseline: `raw keep-alive POST loop: p50 ${percentile(raw, 50).toFixed(2)} ms, p99 ${percentile(raw, 99).toFixed(2)} ms`,
    target: 'p99 < 50 ms',
    verdict: p99 < 50 ? 'met' : 'missed',
  });
  log(`(b) p50 ${p50} p99 ${p99}`);
}

function writeResults(report: string): void {
  log(`wrote ${writeResultsSection('outbox', '## Outbox (bench/outbox)', report)}`);
}

if (only.has('a')) await scenarioA();
if (only.has('b')) await scenarioB();
const report = [
  `Latest run: ${new Date().toISOString()} — ${machine()}; load average (1/5/15 min) ${loadAverage()} at the end; command: \`npx tsx bench/outbox/run.mts\`.`,
  '',
  '| | figure | measured | baseline (same run) | target | |',
  '|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| (${r.id}) | ${r.figure} | ${r.measured} | ${r.baseline} | ${r.target} | ${r.verdict} |`,
  ),
].join('\n');
process.stdout.write(`${report}\n`);
if (!args.has('no-write')) writeResults(report);
