/**
 * One competing process of the store concurrency tests (concurrent-writers.test.ts): opens the
 * store the test prepared, prints `ready`, waits for `go` on stdin so that every process starts at
 * once, then races the others and prints what it got as one JSON line.
 *
 *   store-worker.ts claim  DB WORKER N        claims until the queue is empty (N builds queued)
 *   store-worker.ts append DB WORKER IDS      appends one source event per delivery id (comma list)
 *
 * DB is a SQLite file, or `pg:SCHEMA` for a schema on the test PostgreSQL; there each process
 * claims on several connections at once (`CLAIMERS` loops over a pool of as many connections).
 */
import { createInterface } from 'node:readline';
import type { Store } from '../../../src/store/ports.js';
import { openPostgresStore } from '../../../src/store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.js';
import { TEST_PG_URL } from '../../../src/testing/postgres-fixture.js';

const CLAIMERS = 3;

const [mode, path, worker, ids] = process.argv.slice(2);
if (!path || !worker || (mode !== 'claim' && mode !== 'append')) {
  process.stderr.write('usage: store-worker.ts claim|append DB WORKER [IDS]\n');
  process.exit(64);
}
// Bounded in time whatever happens: a stuck child must not hang the test run.
setTimeout(() => {
  process.stderr.write(`${worker}: gave up after 60 s\n`);
  process.exit(3);
}, 60_000).unref();

const postgres = path.startsWith('pg:');
const store: Store = postgres
  ? await openPostgresStore({ url: TEST_PG_URL, schema: path.slice(3), maxConnections: CLAIMERS })
  : await openSqliteStore({ path, busyTimeoutMs: 20_000 });
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) if (line === 'go') break;

if (mode === 'claim') {
  const claims: Array<{ id: number; worker: string }> = [];
  // At most as many claims as the test queued (it passes the count as IDS); one more sees none.
  const limit = Number(ids ?? '1000') + 1;
  const claimLoop = async (name: string) => {
    for (let i = 0; i < limit; i++) {
      const build = await store.queue.claimNextBuild(name, Date.now());
      if (!build) break;
      claims.push({ id: build.id, worker: name });
    }
  };
  const loops = postgres ? CLAIMERS : 1;
  await Promise.all(
    Array.from({ length: loops }, (_, k) => claimLoop(loops === 1 ? worker : `${worker}.${k}`)),
  );
  process.stdout.write(`${JSON.stringify({ claims })}\n`);
} else {
  const appended: Array<{ deliveryId: string; id: number; redelivery: boolean }> = [];
  for (const deliveryId of (ids ?? '').split(',')) {
    const a = await store.inbox.appendEvent({
      kind: 'source',
      source: 'app',
      version: `v-${deliveryId}`,
      ref: 'main',
      origin: 'webhook',
      deliveryId,
      changedPaths: null,
      producedBy: null,
      receivedAt: Date.now(),
    });
    appended.push({ deliveryId, ...a });
  }
  process.stdout.write(`${JSON.stringify({ appended })}\n`);
}
await store.close();
