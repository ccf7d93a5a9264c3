/**
 * Scale bench, PostgreSQL part: scheduler decide + commit on the PostgreSQL store beside the
 * embedded SQLite store, in the same run. See bench/README.md ("Scale").
 *
 *   npx tsx bench/scale/run.mts [--jobs=10000] [--events=500] [--rounds=5] [--no-write] [--trace]
 *
 * `--trace` measures instead of timing rounds: the statements one decision sends to PostgreSQL,
 * their round trips and their plans (bench/scale/trace.mts); nothing is written to RESULTS.md.
 *
 * Needs PostgreSQL at $NIGHTLESS_TEST_PG_URL (default postgres://postgres@127.0.0.1:5432/test);
 * each run uses a schema of its own, dropped at the end.
 */
import pg from 'pg';
import { pino } from 'pino';
import { Engine } from '../../src/app/engine.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { Pipeline } from '../../src/core/pipeline.js';
import { decide } from '../../src/core/scheduler/index.js';
import { MemorySnapshot } from '../../src/scheduler/scheduler-state.js';
import type { Store } from '../../src/store/ports.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { dropSchema, TEST_PG_URL, uniqueSchema } from '../../src/testing/postgres-fixture.js';
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import {
  makePipeline,
  ms,
  neverExecutor,
  percentile,
  removeDir,
  sha,
  sourceEvent,
  stopwatch,
  tempDir,
} from '../scheduler/lib.mjs';
import { explain, installTrace, record, summarize } from './trace.mjs';

const args = benchArgs();
const JOBS = Number(args.get('jobs') ?? 10_000);
const EVENTS = Number(args.get('events') ?? 500);
const ROUNDS = Number(args.get('rounds') ?? 5);
const WARMUP = 200;
const TRACE = args.has('trace');
if (TRACE) installTrace();

interface Backend {
  readonly name: string;
  readonly store: Store;
  readonly snapshot: MemorySnapshot;
  /** p50 and p99 of decide + commit, one entry per round. */
  readonly p50: number[];
  readonly p99: number[];
}

function log(msg: string): void {
  process.stderr.write(`[scale] ${msg}\n`);
}

/** The scheduler's history: one version of every source, decided by the real engine. */
async function seed(name: string, store: Store, pipeline: Pipeline): Promise<Backend> {
  const sw = stopwatch();
  const engine = await Engine.start({
    store,
    bus: new MemoryBus(),
    executor: neverExecutor,
    pipeline,
    logger: pino({ level: 'silent' }),
    slots: 0,
  });
  for (let from = 0; from < JOBS; from += 1000) {
    const batch = [];
    for (let i = from; i < Math.min(JOBS, from + 1000); i++)
      batch.push(sourceEvent(`s${i}`, sha(`s${i}`, 0)));
    await engine.ingestMany(batch);
  }
  await engine.decided();
  await engine.stop();
  log(`${name}: seeded ${JOBS} versions in ${ms(sw().wall, 0)}`);
  const snapshot = new MemorySnapshot(pipeline, await store.scheduler.loadSchedulerState());
  return { name, store, snapshot, p50: [], p99: [] };
}

let counter = 1;
function nextEvent() {
  const s = `s${Math.floor(Math.random() * JOBS)}`;
  return sourceEvent(s, sha(s, counter++));
}

/** `n` events, each a new version of one source: 1 build queued, its queued predecessor superseded. */
async function steps(b: Backend, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    await b.store.inbox.appendEvent(nextEvent());
    const [event] = await b.store.scheduler.pendingEvents(1);
    if (!event) throw new Error('no pending event');
    // What SchedulerLoop does per event: decide on the snapshot, commit, update the snapshot.
    const stop = stopwatch();
    const now = Date.now();
    const decisions = decide(b.snapshot, event, now);
    const applied = await b.store.scheduler.applyDecisions(event, decisions, now);
    b.snapshot.applied(applied, decisions);
    times.push(stop().wall);
  }
  return times.sort((x, y) => x - y);
}

/** One decide + commit as {@link steps} times it; only the decision's statements are recorded. */
async function traceStep(b: Backend) {
  await b.store.inbox.appendEvent(nextEvent());
  const [event] = await b.store.scheduler.pendingEvents(1);
  if (!event) throw new Error('no pending event');
  return record(async () => {
    const now = Date.now();
    const decisions = decide(b.snapshot, event, now);
    b.snapshot.applied(await b.store.scheduler.applyDecisions(event, decisions, now), decisions);
  });
}

interface Bare {
  /** One row inserted in its own transaction (begin, insert, durable commit). */
  readonly insert: { p50: number; p99: number };
  /** `select 1`: one round trip, nothing written. */
  readonly roundTrip: { p50: number; p99: number };
}

/** The simplest PostgreSQL work, on a plain connection: what one step is made of. */
async function bare(schema: string, n: number): Promise<Bare> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  const measure = async (work: (i: number) => Promise<unknown>) => {
    const times: number[] = [];
    for (let i = 0; i < n; i++) {
      const stop = stopwatch();
      await work(i);
      times.push(stop().wall);
    }
    times.sort((x, y) => x - y);
    return { p50: percentile(times, 50), p99: percentile(times, 99) };
  };
  try {
    await client.query(`create table ${schema}.bare (id bigserial primary key, v text)`);
    const insert = await measure(async (i) => {
      await client.query('begin');
      await client.query(`insert into ${schema}.bare (v) values ($1)`, [`v${i}`]);
      await client.query('commit');
    });
    const roundTrip = await measure(() => client.query('select 1'));
    return { insert, roundTrip };
  } finally {
    await client.end();
  }
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const spread = (xs: readonly number[]) =>
  `${ms(median(xs))} (rounds ${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;

async function main(): Promise<void> {
  const started = Date.now();
  const load = loadAverage();
  const pipeline = makePipeline(JOBS, (i) => `s${i}`);
  const dir = tempDir('scale');
  const schema = uniqueSchema();
  const sqliteStore = await openSqliteStore({ path: `${dir}/nightless.db` });
  const pgStore = await openPostgresStore({ url: TEST_PG_URL, schema });
  try {
    const sqlite = await seed('SQLite', sqliteStore, pipeline);
    const postgres = await seed('PostgreSQL', pgStore, pipeline);
    for (const b of [sqlite, postgres]) await steps(b, WARMUP);
    if (TRACE) {
      const perDecision = [];
      for (let i = 0; i < EVENTS; i++) perDecision.push(await traceStep(postgres));
      process.stdout.write(`${summarize(perDecision)}\n\n`);
      process.stdout.write(`${await explain(TEST_PG_URL, schema, perDecision.at(-1) ?? [])}\n`);
      return;
    }
    // Interleaved rounds: both backends see the same machine load.
    for (let r = 0; r < ROUNDS; r++) {
      for (const b of [sqlite, postgres]) {
        const t = await steps(b, EVENTS);
        b.p50.push(percentile(t, 50));
        b.p99.push(percentile(t, 99));
        log(`round ${r + 1} ${b.name}: p50 ${ms(b.p50.at(-1)!)} p99 ${ms(b.p99.at(-1)!)}`);
      }
    }
    const base = await bare(schema, EVENTS);
    log(`bare pg insert+commit p50 ${ms(base.insert.p50)} p99 ${ms(base.insert.p99)}`);
    log(`bare pg select 1 p50 ${ms(base.roundTrip.p50)} p99 ${ms(base.roundTrip.p99)}`);
    const ratio = (a: number[], b: number[]) => `${(median(a) / median(b)).toFixed(2)}×`;
    const rows: FigureRow[] = [
      {
        figure: 'decide + commit on PostgreSQL, 1 event → 1 of 10k jobs, p99',
        target: '< 5 ms',
        measured: spread(postgres.p99),
        met: median(postgres.p99) < 5,
        baseline: `SQLite (embedded) ${spread(sqlite.p99)}`,
        ratio: `${ratio(postgres.p99, sqlite.p99)} SQLite`,
      },
      {
        figure: 'decide + commit on PostgreSQL, p50',
        target: '—',
        measured: spread(postgres.p50),
        met: null,
        baseline: `SQLite (embedded) ${spread(sqlite.p50)}`,
        ratio: `${ratio(postgres.p50, sqlite.p50)} SQLite`,
      },
      {
        figure: 'decide + commit on PostgreSQL vs the simplest transaction, p50',
        target: '—',
        measured: ms(median(postgres.p50)),
        met: null,
        baseline: `bare pg: 1-row insert + commit, p50 ${ms(base.insert.p50)} (p99 ${ms(base.insert.p99)})`,
        ratio: `${(median(postgres.p50) / base.insert.p50).toFixed(1)}×`,
      },
      {
        figure: 'decide + commit on PostgreSQL vs one round trip, p50',
        target: '—',
        measured: ms(median(postgres.p50)),
        met: null,
        baseline: `bare pg: \`select 1\`, p50 ${ms(base.roundTrip.p50)} (p99 ${ms(base.roundTrip.p99)})`,
        ratio: `${(median(postgres.p50) / base.roundTrip.p50).toFixed(1)}×`,
      },
    ];
    const report = [
      `Latest run: ${new Date().toISOString()} — ${machine()}, load average at start ${load}, ` +
        `total ${((Date.now() - started) / 1000).toFixed(0)} s; PostgreSQL ${await serverVersion()} on 127.0.0.1.`,
      '',
      figureTable(rows),
      '',
      `- ${JOBS} jobs each consuming its own git source, history seeded through the real engine ` +
        `(one version of every source); then ${WARMUP} warm-up and ${ROUNDS} rounds × ${EVENTS} events ` +
        'per backend, the backends interleaved round by round. Each event is a new version of a ' +
        'random source: 1 build queued, its queued predecessor superseded. Timed: `decide` on the ' +
        'in-memory snapshot + `applyDecisions` (one transaction) + `snapshot.applied`, as ' +
        '`SchedulerLoop` runs them; the inbox append before it is not timed.',
      "- Figures are the median over rounds of each round's percentile, with the range over rounds " +
        '(the spread, not the best run).',
    ].join('\n');
    process.stdout.write(`${report}\n`);
    if (!args.has('no-write'))
      log(
        `wrote ${writeResultsSection('scale', '## Scale, PostgreSQL part (bench/scale)', report)}`,
      );
  } finally {
    await sqliteStore.close();
    await pgStore.close();
    await dropSchema(schema);
    removeDir(dir);
  }
}

async function serverVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: TEST_PG_URL });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>(
      `select current_setting('server_version') as v`,
    );
    return rows[0]?.v ?? '?';
  } finally {
    await client.end();
  }
}

await main();
