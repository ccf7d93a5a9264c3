/**
 * What keeping outbox ids in commit order costs on PostgreSQL (docs/architecture.md, "Outbox ids
 * become visible in increasing order"): 8 workers claim and finish queued builds at once — each
 * claim and each finish writes an outbox row — on the real store (rows inserted last, under
 * `pg_advisory_xact_lock`) and on the same store with the lock off (the old behaviour, which can
 * lose events), in one run, rounds interleaved.
 *
 *   npx tsx bench/outbox/commit-order.mts [--builds=400] [--workers=8] [--rounds=4]
 *
 * Needs PostgreSQL at $NIGHTLESS_TEST_PG_URL; uses a schema of its own, dropped at the end.
 */
import { Kysely, PostgresDialect } from 'kysely';
import pg from 'pg';
import type { Decision } from '../../src/core/scheduler/index.js';
import type { Store } from '../../src/store/ports.js';
import {
  clientConfig,
  openPostgresStore,
  POSTGRES_DIALECT,
} from '../../src/store/postgres/open-postgres-store.js';
import type { Database } from '../../src/store/schema.js';
import { createSqlStore } from '../../src/store/sql/sql-store.js';
import { dropSchema, TEST_PG_URL, uniqueSchema } from '../../src/testing/postgres-fixture.js';
import { benchArgs } from '../lib/cli.mjs';
import { loadAverage, machine, median } from '../lib/report.mjs';
import { ms, percentile } from '../scheduler/lib.mjs';

const args = benchArgs();
const BUILDS = Number(args.get('builds') ?? 400);
const WORKERS = Number(args.get('workers') ?? 8);
const ROUNDS = Number(args.get('rounds') ?? 4);

const passed = {
  state: 'passed' as const,
  outputs: [],
  coverage: null,
  warnings: [],
};

async function queue(store: Store, round: string): Promise<void> {
  const { id } = await store.inbox.appendEvent({
    kind: 'source',
    source: 'app',
    version: round,
    ref: 'main',
    origin: 'webhook',
    deliveryId: null,
    changedPaths: null,
    producedBy: null,
    receivedAt: Date.now(),
  });
  const [e] = await store.scheduler.pendingEvents(1);
  if (e?.id !== id) throw new Error('unexpected pending event');
  const decisions: Decision[] = Array.from({ length: BUILDS }, (_, i) => ({
    kind: 'queue-build',
    job: `j${i}`,
    source: 'app',
    version: round,
    fingerprint: `${round}-${i}`,
    definitionHash: 'def',
    inputs: [{ source: 'app', version: round, origin: 'webhook', eventId: id, ref: 'main' }],
    cause: { kind: 'version', source: 'app', version: round, eventId: id },
    forced: false,
    supersedes: [],
    cancels: [],
    concurrency: { group: `j${i}`, limit: 1, supersede: true },
    rule: 'built',
    detail: 'build queued',
  }));
  await store.scheduler.applyDecisions(e, decisions, Date.now());
}

/** Drains the queue with `WORKERS` claimers; per claim+finish latencies and the wall time. */
async function drain(store: Store): Promise<{ wallMs: number; lat: number[] }> {
  const lat: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: WORKERS }, async (_, w) => {
      for (let n = 0; n < BUILDS * 2; n++) {
        const s = performance.now();
        const b = await store.queue.claimNextBuild(`w${w}`, Date.now());
        if (b === null) return;
        await store.queue.finishBuild(
          b.id,
          { result: passed, logBytes: 0, outputEvents: [] },
          Date.now(),
        );
        lat.push(performance.now() - s);
      }
    }),
  );
  return { wallMs: performance.now() - t0, lat: lat.sort((a, b) => a - b) };
}

const schema = uniqueSchema();
const locked = await openPostgresStore({ url: TEST_PG_URL, schema });
const pool = new pg.Pool({ ...clientConfig({ url: TEST_PG_URL, schema }), max: 10 });
pool.on('error', () => undefined);
const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
// The same store with only the outbox lock off (the dialect's other flags as the real one's).
const unlocked = createSqlStore(db, { ...POSTGRES_DIALECT, outboxIdsNeedLock: false }, () =>
  db.destroy(),
);
await locked.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
const loadBefore = loadAverage();
const results = { locked: [] as number[][], unlocked: [] as number[][] };
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, store] of [
      ['unlocked', unlocked],
      ['locked', locked],
    ] as const) {
      await queue(store, `${name}-${r}`);
      const { wallMs, lat } = await drain(store);
      results[name].push([(BUILDS / wallMs) * 1000, percentile(lat, 50), percentile(lat, 99)]);
      process.stderr.write(
        `[commit-order] round ${r} ${name}: ${((BUILDS / wallMs) * 1000).toFixed(0)} builds/s, p50 ${ms(percentile(lat, 50))}, p99 ${ms(percentile(lat, 99))}\n`,
      );
    }
  }
} finally {
  await locked.close();
  await unlocked.close();
  await dropSchema(schema);
}
const range = (xs: number[], d = 0) =>
  `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
const col = (name: 'locked' | 'unlocked', i: number) => results[name].map((x) => x[i] ?? 0);
const ratio = median(col('locked', 0)) / median(col('unlocked', 0));
process.stdout.write(
  `${new Date().toISOString()}, ${machine()}, load ${loadBefore} → ${loadAverage()}; ${BUILDS} builds × ${ROUNDS} rounds, ${WORKERS} workers (claim + finish, 2 outbox rows per build)\n` +
    `  in-order outbox (lock): ${median(col('locked', 0)).toFixed(0)} builds/s (rounds ${range(col('locked', 0))}), claim+finish p50 ${median(col('locked', 1)).toFixed(2)} ms (${range(col('locked', 1), 2)}), p99 ${median(col('locked', 2)).toFixed(1)} ms (${range(col('locked', 2), 1)})\n` +
    `  no lock (old, can skip rows): ${median(col('unlocked', 0)).toFixed(0)} builds/s (rounds ${range(col('unlocked', 0))}), claim+finish p50 ${median(col('unlocked', 1)).toFixed(2)} ms (${range(col('unlocked', 1), 2)}), p99 ${median(col('unlocked', 2)).toFixed(1)} ms (${range(col('unlocked', 2), 1)})\n` +
    `  throughput ratio lock / no lock: ${ratio.toFixed(2)}×\n`,
);
