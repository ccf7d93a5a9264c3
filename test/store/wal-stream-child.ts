/**
 * Child process of wal-checkpointer.test.ts: opens the SQLite store at argv[2], commits one
 * inbox event every 2 ms for argv[3] ms, closes, and prints its pid (its main thread's id).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const [path, forMs] = [process.argv[2]!, Number(process.argv[3])];
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
await store.close();
process.stdout.write(`${process.pid}\n`);
