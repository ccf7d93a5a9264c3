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
import { figureTable, loadAverage, machine, median, type FigureRow } from '../lib/report.mjs';
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

/** The simplest durable PostgreSQL transaction, on a plain connection: the floor of a decision. */
class Bare {
  readonly p50: number[] = [];
  readonly p99: number[] = [];
  /** `select 1`: one round trip, nothing written. */
  readonly roundTrip = { p50: [] as number[], p99: [] as number[] };
  private i = 0;

  private constructor(
    private readonly client: pg.Client,
    private readonly table: string,
  ) {}

  static async open(schema: string): Promise<Bare> {
    const client = new pg.Client({
      connectionString: TEST_PG_URL,
      connectionTimeoutMillis: 5000,
      query_timeout: 30_000,
    });
    await client.connect();
    const table = `${schema}.bare`;
    await client.query(`create table ${table} (id bigserial primary key, v text)`);
    return new Bare(client, table);
  }

  /** One round: `n` one-row inserts, each in its own transaction (begin, insert, commit). */
  async round(n: number): Promise<void> {
    const measure = async (work: () => Promise<unknown>) => {
      const times: number[] = [];
      for (let k = 0; k < n; k++) {
        const stop = stopwatch();
        await work();
        times.push(stop().wall);
      }
      return times.sort((x, y) => x - y);
    };
    const insert = await measure(async () => {
      await this.client.query('begin');
      await this.client.query(`insert into ${this.table} (v) values ($1)`, [`v${this.i++}`]);
      await this.client.query('commit');
    });
    this.p50.push(percentile(insert, 50));
    this.p99.push(percentile(insert, 99));
    const trip = await measure(() => this.client.query('select 1'));
    this.roundTrip.p50.push(percentile(trip, 50));
    this.roundTrip.p99.push(percentile(trip, 99));
  }

  close(): Promise<void> {
    return this.client.end();
  }
}

const spread = (xs: readonly number[]) =>
  `${ms(median(xs))} (rounds ${ms(Math.min(...xs))}–${ms(Math.max(...xs))})`;
/** Per round `a / b`, as the median over rounds with the range. */
const ratios = (a: readonly number[], b: readonly number[]) => {
  const r = a.map((x, i) => x / b[i]!).sort((x, y) => x - y);
  return `${median(r).toFixed(2)}× (${r[0]!.toFixed(2)}–${r.at(-1)!.toFixed(2)})`;
};

async function main(): Promise<void> {
  const started = Date.now();
  const load = loadAverage();
  const pipeline = makePipeline(JOBS, (i) => `s${i}`);
  const dir = tempDir('scale');
  const schema = uniqueSchema();
  const sqliteStore = await openSqliteStore({ path: `${dir}/nightless.db` });
  const pgStore = await openPostgresStore({ url: TEST_PG_URL, schema });
  // The same database through a store that sends one statement at a time: what pipelining saves.
  const pgOneByOne = await openPostgresStore({ url: TEST_PG_URL, schema, pipelining: false });
  const loads: string[] = [];
  let bare: Bare | null = null;
  try {
    const sqlite = await seed('SQLite', sqliteStore, pipeline);
    const postgres = await seed('PostgreSQL', pgStore, pipeline);
    // Same rows, so the same snapshot: the two PostgreSQL stores take turns deciding on it.
    const oneByOne: Backend = {
      ...postgres,
      name: 'PostgreSQL one statement at a time',
      store: pgOneByOne,
      p50: [],
      p99: [],
    };
    for (const b of [sqlite, postgres, oneByOne]) await steps(b, WARMUP);
    if (TRACE) {
      for (const b of [postgres, oneByOne]) {
        const traced = [];
        for (let i = 0; i < EVENTS; i++) traced.push(await traceStep(b));
        const perDecision = traced.map((t) => t.sent);
        const walls = traced.map((t) => t.wall);
        process.stdout.write(`${b.name}:\n${summarize(perDecision, walls)}\n\n`);
        if (b === postgres)
          process.stdout.write(
            `${await explain(TEST_PG_URL, schema, perDecision.at(-1) ?? [])}\n\n`,
          );
      }
      return;
    }
    bare = await Bare.open(schema);
    // Interleaved rounds: every backend and the floor see the same machine load.
    for (let r = 0; r < ROUNDS; r++) {
      loads.push(loadAverage().split(' / ')[0] ?? '?');
      for (const b of [sqlite, postgres, oneByOne]) {
        const t = await steps(b, EVENTS);
        b.p50.push(percentile(t, 50));
        b.p99.push(percentile(t, 99));
        log(`round ${r + 1} ${b.name}: p50 ${ms(b.p50.at(-1)!)} p99 ${ms(b.p99.at(-1)!)}`);
      }
      await bare.round(EVENTS);
      log(
        `round ${r + 1} bare insert+commit: p50 ${ms(bare.p50.at(-1)!)} p99 ${ms(bare.p99.at(-1)!)}`,
      );
    }
    const rows: FigureRow[] = [
      {
        figure: 'decide + commit on PostgreSQL, 1 event → 1 of 10k jobs, p99',
        target: '< 5 ms',
        measured: spread(postgres.p99),
        met: median(postgres.p99) < 5,
        baseline: `bare pg 1-row insert + commit (the floor), p99 ${spread(bare.p99)}`,
        ratio: `${ratios(postgres.p99, bare.p99)} floor`,
      },
      {
        figure: 'decide + commit on PostgreSQL, p50',
        target: '—',
        measured: spread(postgres.p50),
        met: null,
        baseline: `bare pg 1-row insert + commit (the floor), p50 ${spread(bare.p50)}`,
        ratio: `${ratios(postgres.p50, bare.p50)} floor`,
      },
      {
        figure: 'the same, statements sent one at a time (before pipelining), p99',
        target: '—',
        measured: spread(oneByOne.p99),
        met: null,
        baseline: `pipelined p99 ${ms(median(postgres.p99))}`,
        ratio: `pipelined ${ratios(postgres.p99, oneByOne.p99)}`,
      },
      {
        figure: 'the same, statements sent one at a time (before pipelining), p50',
        target: '—',
        measured: spread(oneByOne.p50),
        met: null,
        baseline: `pipelined p50 ${ms(median(postgres.p50))}`,
        ratio: `pipelined ${ratios(postgres.p50, oneByOne.p50)}`,
      },
      {
        figure: 'decide + commit on SQLite (embedded), p99 / p50',
        target: '—',
        measured: `${spread(sqlite.p99)} / ${spread(sqlite.p50)}`,
        met: null,
        baseline: `PostgreSQL pipelined p99 ${ms(median(postgres.p99))} / p50 ${ms(median(postgres.p50))}`,
        ratio: `PostgreSQL ${ratios(postgres.p99, sqlite.p99)} / ${ratios(postgres.p50, sqlite.p50)}`,
      },
      {
        figure: 'one round trip (`select 1`), p50 / p99',
        target: '—',
        measured: `${spread(bare.roundTrip.p50)} / ${spread(bare.roundTrip.p99)}`,
        met: null,
        baseline: '—',
        ratio: '—',
      },
    ];
    const report = [
      `Latest run: ${new Date().toISOString()} — ${machine()}, load average at start ${load} ` +
        `(1-min load at each round's start: ${loads.join(', ')}), ` +
        `total ${((Date.now() - started) / 1000).toFixed(0)} s; PostgreSQL ${await serverVersion()} ` +
        `on 127.0.0.1 (synchronous_commit ${await setting('synchronous_commit')}, ` +
        `fsync ${await setting('fsync')}, wal_sync_method ${await setting('wal_sync_method')}).`,
      '',
      figureTable(rows),
      '',
      `- ${JOBS} jobs each consuming its own git source, history seeded through the real engine ` +
        `(one version of every source); then ${WARMUP} warm-up and ${ROUNDS} rounds × ${EVENTS} events ` +
        'per backend, the backends and the bare floor interleaved round by round. Each event is a ' +
        'new version of a random source: 1 build queued, its queued predecessor superseded. Timed: ' +
        '`decide` on the in-memory snapshot + `applyDecisions` (one transaction) + ' +
        '`snapshot.applied`, as `SchedulerLoop` runs them; the inbox append before it is not timed.',
      '- Both PostgreSQL rows write to the same database and decide on the same snapshot; "one at a ' +
        'time" is the store opened with `pipelining: false` (the same statements, one round trip each).',
      "- Figures are the median over rounds of each round's percentile, with the range over rounds " +
        '(the spread, not the best run); ratios are per round, same round, then the median and range.',
    ].join('\n');
    process.stdout.write(`${report}\n`);
    if (!args.has('no-write'))
      log(
        `wrote ${writeResultsSection('scale', '## Scale, PostgreSQL part (bench/scale)', report)}`,
      );
  } finally {
    await bare?.close();
    await sqliteStore.close();
    await pgStore.close();
    await pgOneByOne.close();
    await dropSchema(schema);
    removeDir(dir);
  }
}

async function setting(name: string): Promise<string> {
  const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
  await client.connect();
  try {
    const { rows } = await client.query<{ v: string }>('select current_setting($1) as v', [name]);
    return rows[0]?.v ?? '?';
  } finally {
    await client.end();
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
