import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect, type QueryResult } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import type { Database } from '../../src/store/schema.js';
import { SQLITE_DIALECT, Shapes, type Db } from '../../src/store/sql/connection.js';
import { ImmediateSender } from '../../src/store/sql/statement-sender.js';

let raw: BetterSqlite3.Database;
let db: Kysely<Database>;
afterEach(async () => {
  await db.destroy();
});

function open(): void {
  raw = new BetterSqlite3(':memory:');
  raw.exec(`create table meta (key text primary key, value text not null);
    create table outbox (id integer primary key autoincrement, build_id integer not null,
      type text not null, payload text not null, created_at integer not null)`);
  db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
}
const runNow = (sqlText: string, parameters: readonly unknown[]): QueryResult<unknown> => {
  const stmt = raw.prepare(sqlText);
  if (stmt.reader) return { rows: stmt.all(parameters) };
  const { changes } = stmt.run(parameters);
  return { rows: [], numAffectedRows: BigInt(changes) };
};
const put = (d: Db, p: { key: string; value: string }) =>
  d.insertInto('meta').values({ key: p.key, value: p.value });
const all = (d: Db, p: { from: string }) =>
  d.selectFrom('meta').select(['key', 'value']).where('key', '>=', p.from).orderBy('key');
const count = (table: string): unknown => raw.prepare(`select count(*) n from ${table}`).get();

/**
 * Hot statements on SQLite run at once inside a transaction (which holds the one connection),
 * and outside one still wait for the connection: never inside someone else's open transaction.
 */
describe('Shapes with runNow', () => {
  it('runs a statement inside a transaction at once, and its failure rejects', async () => {
    open();
    const shapes = new Shapes(runNow);
    await db.transaction().execute(async (trx) => {
      void shapes.run(trx, put, { key: 'a', value: '1' });
      expect(count('meta')).toEqual({ n: 1 });
      await expect(shapes.run(trx, put, { key: 'a', value: '2' })).rejects.toThrow(
        /UNIQUE constraint failed/,
      );
    });
    expect(raw.prepare('select value from meta').all()).toEqual([{ value: '1' }]);
  });

  it('outside a transaction, waits until an open one ends instead of joining it', async () => {
    open();
    const shapes = new Shapes(runNow);
    let outside: Promise<unknown> | undefined;
    await db
      .transaction()
      .execute(async (trx) => {
        await shapes.run(trx, put, { key: 'in', value: '1' });
        outside = shapes.run(db, put, { key: 'out', value: '2' });
        // Give the outside statement every chance to run before this transaction ends.
        await new Promise((resolve) => setTimeout(resolve, 20));
        expect(count('meta')).toEqual({ n: 1 });
        throw new Error('roll back');
      })
      .catch(() => undefined);
    await outside;
    // The rollback took the transaction's row only; the outside one committed on its own.
    expect(raw.prepare('select key from meta').all()).toEqual([{ key: 'out' }]);
  });
});

/**
 * The SQLite decision writer's sender: each statement runs when sent, and the failure rule of
 * every sender holds (after a failure nothing runs; the transaction's end rejects with the first
 * failure; a failed statement nobody awaited is no unhandled rejection).
 */
describe('ImmediateSender', () => {
  const outboxRow = (n: number) => ({ buildId: n, type: 'queued', payload: '{}', createdAt: n });

  it('runs each statement as it is sent, outbox rows last, and commits them', async () => {
    open();
    await db.transaction().execute(async (trx) => {
      const w = new ImmediateSender(new Shapes(runNow), trx, SQLITE_DIALECT);
      w.outbox(outboxRow(7));
      void w.send(put, { key: 'a', value: '1' });
      // Already in the table before anything was awaited.
      expect(count('meta')).toEqual({ n: 1 });
      const seen = await w.send(all, { from: 'a' });
      expect(seen.rows).toEqual([{ key: 'a', value: '1' }]);
      expect(count('outbox')).toEqual({ n: 0 });
      await w.drain();
    });
    expect(raw.prepare('select key, value from meta').all()).toEqual([{ key: 'a', value: '1' }]);
    expect(raw.prepare('select build_id from outbox').all()).toEqual([{ build_id: 7 }]);
  });

  it('runs nothing after a failure and ends the transaction with that failure', async () => {
    open();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      const done = db.transaction().execute(async (trx) => {
        const w = new ImmediateSender(new Shapes(runNow), trx, SQLITE_DIALECT);
        void w.send(put, { key: 'a', value: '1' });
        // Never awaited, as the writer sends its writes: a duplicate key.
        void w.send(put, { key: 'a', value: '2' });
        const later = w.send(put, { key: 'b', value: '3' });
        await expect(later).rejects.toThrow(/UNIQUE constraint failed: meta.key/);
        w.outbox(outboxRow(1));
        await w.drain();
      });
      await expect(done).rejects.toThrow(/UNIQUE constraint failed: meta.key/);
      // Let any unobserved rejection surface before looking.
      await new Promise((resolve) => setTimeout(resolve, 20));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
    // Rolled back: neither the first row, nor the one sent after the failure, nor the outbox row.
    expect(count('meta')).toEqual({ n: 0 });
    expect(count('outbox')).toEqual({ n: 0 });
  });

  it('after abort, later statements reject with the abort reason and drain rejects too', async () => {
    open();
    await db
      .transaction()
      .execute(async (trx) => {
        const w = new ImmediateSender(new Shapes(runNow), trx, SQLITE_DIALECT);
        w.outbox(outboxRow(1));
        await w.abort(new Error('connection lost'));
        await expect(w.send(put, { key: 'x', value: '1' })).rejects.toThrow('connection lost');
        await expect(w.drain()).rejects.toThrow('connection lost');
        throw new Error('rolled back');
      })
      .catch(() => undefined);
    expect(count('meta')).toEqual({ n: 0 });
    expect(count('outbox')).toEqual({ n: 0 });
  });
});
