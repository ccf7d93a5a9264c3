/**
 * Child process of wal-checkpointer.test.ts: opens the SQLite store at argv[2], commits one
 * inbox event every 2 ms for argv[3] ms; then, given argv[4], prints `idle-from <ms since the
 * epoch>` and stays idle for argv[4] ms. Closes, and prints its pid (its main thread's id).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const [path, forMs, idleMs] = [process.argv[2]!, Number(process.argv[3]), process.argv[4]];
const store = await openSqliteStore({ path });
const start = Date.now();
for (let i = 0; Date.now() - start < forMs && i < 10_000; i++) {
  await store.inbox.appendEvents([
    {
      kind: 'source',
      source: 'app',
      version: `v${i}`.padEnd(40, 'x'),
      ref: 'main',
      origin: 'webhook',
      deliveryId: `d${i}`,
      changedPaths: null,
      producedBy: null,
      receivedAt: i,
    },
  ]);
  await sleep(2);
}
if (idleMs !== undefined) {
  process.stdout.write(`idle-from ${Date.now()}\n`);
  await sleep(Number(idleMs));
}
await store.close();
process.stdout.write(`${process.pid}\n`);
