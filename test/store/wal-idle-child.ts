/**
 * Child process of wal-checkpointer.test.ts: opens the SQLite store at argv[2], commits a few
 * inbox events, then stays idle for argv[3] ms; prints when the idle time began (ms since the
 * epoch), closes the store.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const [path, idleMs] = [process.argv[2]!, Number(process.argv[3])];
const store = await openSqliteStore({ path });
for (let i = 0; i < 20; i++)
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
process.stdout.write(`${Date.now()}\n`);
await sleep(idleMs);
await store.close();
