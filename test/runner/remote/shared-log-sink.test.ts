import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { logPath } from '../../../src/executor/log-reader.js';
import { LogShipper } from '../../../src/executor/log-shipper.js';
import { LogSink } from '../../../src/runner/remote/log-sink.js';
import type { Store } from '../../../src/store/ports.js';
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.js';
import { openPostgresTestStore, postgresAvailable } from '../../../src/testing/postgres-fixture.js';

/**
 * An agent's log chunks arriving at two replicas of one installation (the server side of
 * `agent/log-uploader.ts`): each replica appends to its own file and copies it into the database.
 * A resent chunk, a failover to the other replica and back never duplicate or lose a line.
 */
const PG = await postgresAvailable('the shared log sink test');
type Backend = [string, () => Promise<{ store: Store; dispose(): Promise<void> }>];
const backends: Backend[] = [
  [
    'sqlite',
    async () => {
      const store = await openSqliteStore({ path: ':memory:' });
      return { store, dispose: () => store.close() };
    },
  ],
  ...(PG ? [['postgresql', () => openPostgresTestStore()] satisfies Backend] : []),
];

const line = (n: number) => Buffer.from(`${1700000000000 + n} o line ${n}\n`);
const lines = (from: number, to: number) =>
  Buffer.concat(Array.from({ length: to - from }, (_, i) => line(from + i)));

for (const [name, open] of backends) {
  describe(`agent log chunks shared by two replicas [${name}]`, () => {
    let root: string;
    let opened: { store: Store; dispose(): Promise<void> };
    const replica = (dir: string) => {
      const shipper = new LogShipper({
        store: opened.store.logs,
        logFile: (id) => logPath(join(root, dir), id),
        batchMs: 20,
        onError: (err) => {
          throw err;
        },
      });
      return { shipper, sink: new LogSink((id) => logPath(join(root, dir), id), shipper) };
    };
    const stored = async () => (await opened.store.logs.readLog(1, 0, 1 << 20)).toString('utf8');

    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'shared-logs-sink-'));
      opened = await open();
    });
    afterEach(async () => {
      await opened.dispose();
      await rm(root, { recursive: true, force: true });
    });

    it('stores a chunk resent after a reconnect once', async () => {
      const a = replica('a');
      const first = lines(0, 100);
      expect(await a.sink.append(1, 0, first)).toBe(first.length);
      await a.shipper.flush();
      // The answer was lost: the agent sends the same chunk, then one overlapping it.
      expect(await a.sink.append(1, 0, first)).toBe(first.length);
      const overlap = Buffer.concat([line(99), lines(100, 150)]);
      expect(await a.sink.append(1, first.length - line(99).length, overlap)).toBe(
        lines(0, 150).length,
      );
      await a.shipper.flush();
      expect(await stored()).toBe(lines(0, 150).toString());
      expect(await opened.store.logs.logSize(1)).toBe(lines(0, 150).length);
    });

    it('continues on the other replica after a failover, and back, from the shared copy', async () => {
      const a = replica('a');
      const b = replica('b');
      await a.sink.append(1, 0, lines(0, 50));
      await a.shipper.flush();
      // The agent fails over to B mid-build: B has no file, the database has A's bytes.
      const at = lines(0, 50).length;
      expect(await b.sink.append(1, at, lines(50, 80))).toBe(lines(0, 80).length);
      await b.shipper.flush();
      // ...and back to A, whose file stops at line 50.
      expect(await a.sink.append(1, lines(0, 80).length, lines(80, 90))).toBe(lines(0, 90).length);
      await a.shipper.flush();
      expect(await stored()).toBe(lines(0, 90).toString());
      expect(await readFile(logPath(join(root, 'b'), 1), 'utf8')).toBe(lines(0, 80).toString());
      expect(await readFile(logPath(join(root, 'a'), 1), 'utf8')).toBe(lines(0, 90).toString());
      // A chunk past what anyone has is still refused with the size to resend from.
      expect(await b.sink.append(1, lines(0, 95).length, lines(95, 96))).toEqual({
        gap: lines(0, 90).length,
      });
    });

    it('batches a growing file and copies the rest at stop', async () => {
      const a = replica('a');
      await a.sink.append(1, 0, lines(0, 10));
      // Copied by the timer, without a flush (bounded wait: the machine may be loaded).
      for (let i = 0; i < 100 && (await stored()) === ''; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(await stored()).toBe(lines(0, 10).toString());
      await a.sink.append(1, lines(0, 10).length, lines(10, 20));
      await a.shipper.stop();
      expect(await stored()).toBe(lines(0, 20).toString());
    });
  });
}
