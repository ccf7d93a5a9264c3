import BetterSqlite3 from 'better-sqlite3';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  inlineLimits,
  limitSlots,
  withLiteralLimits,
} from '../../src/store/sqlite/literal-limits.js';

describe('limitSlots', () => {
  it('finds each bound LIMIT with the index of its parameter', () => {
    const sql =
      'select * from "builds" where "id" in (select "id" from "builds" where "job" = ? order by "id" limit ?) and "state" = ? order by "id" limit ? offset ?';
    expect(limitSlots(sql).map((s) => s.param)).toEqual([1, 3]);
    const pending = 'select * from "events" where "processed_at" is null limit ?';
    expect(limitSlots(pending)).toEqual([{ param: 0, at: pending.indexOf('limit'), length: 7 }]);
  });

  it('leaves alone what only looks like one: quoted text, identifiers, comments, OFFSET, numbers', () => {
    expect(limitSlots(`select 'limit ?', ? from t where "limit ?" = ? limit 5`)).toEqual([]);
    expect(limitSlots(`select 'it''s limit ?' from t -- limit ?\nwhere a = ? offset ?`)).toEqual(
      [],
    );
    expect(limitSlots('select * from t /* limit ? */ where nolimit = ? limit ?1')).toEqual([]);
    expect(limitSlots('select * from [limit ?] where a = ? LIMIT ?').map((s) => s.param)).toEqual([
      1,
    ]);
  });
});

describe('inlineLimits', () => {
  const sql = 'select * from t where a > ? order by a limit ? offset ?';

  it('writes integer limits in and drops their parameters', () => {
    expect(inlineLimits(sql, limitSlots(sql), [3, 10, 2])).toEqual({
      sql: 'select * from t where a > ? order by a limit 10 offset ?',
      params: [3, 2],
    });
    expect(inlineLimits(sql, limitSlots(sql), [3, 0n, 2])?.sql).toContain('limit 0 offset');
  });

  it('keeps the bound statement for a limit that is not a non-negative safe integer', () => {
    for (const limit of [-1, 1.5, '10', null, Number.MAX_SAFE_INTEGER + 1, 2n ** 60n])
      expect(inlineLimits(sql, limitSlots(sql), [3, limit, 2])).toBeNull();
  });
});

describe('withLiteralLimits on SQLite', () => {
  let db: BetterSqlite3.Database;
  const prepared: string[] = [];
  const prepare = (sql: string) => {
    prepared.push(sql);
    return db.prepare(sql);
  };
  const literal = (sql: string) =>
    withLiteralLimits(db.prepare(sql), sql, limitSlots(sql), prepare);

  beforeEach(() => {
    db = new BetterSqlite3(':memory:');
    db.exec('create table t (id integer primary key, grp integer not null, v text)');
    const insert = db.prepare('insert into t (grp, v) values (?, ?)');
    for (let i = 0; i < 60; i++) insert.run(i % 4, `v${i}`);
    prepared.length = 0;
  });
  afterEach(() => db.close());

  it('answers as the statement with bound limits does, for any limits', () => {
    const sql =
      'select id, v from t where id in (select id from t where grp = ? order by id desc limit ?) and id > ? order by id limit ? offset ?';
    const bound = db.prepare(sql);
    const viaLiteral = literal(sql);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 70 }),
        fc.integer({ min: 0, max: 60 }),
        fc.integer({ min: 0, max: 70 }),
        fc.integer({ min: 0, max: 10 }),
        (grp, inner, after, outer, offset) => {
          const params = [grp, inner, after, outer, offset];
          expect(viaLiteral.all(params)).toEqual(bound.all(params));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('prepares the SQL with the limit written in, and runs writes and iterations through it', () => {
    const read = literal('select v from t where grp = ? order by id limit ?');
    expect(read.all([1, 2])).toEqual([{ v: 'v1' }, { v: 'v5' }]);
    expect([...read.iterate([2, 1])]).toEqual([{ v: 'v2' }]);
    expect(prepared).toEqual([
      'select v from t where grp = ? order by id limit 2',
      'select v from t where grp = ? order by id limit 1',
    ]);
    const del = literal('delete from t where id in (select id from t where grp = ? limit ?)');
    expect(del.run([3, 5]).changes).toBe(5);
    expect(db.prepare('select count(*) n from t where grp = 3').get()).toEqual({ n: 10 });
  });

  it('says what is wrong with a limit it cannot write in, as SQLite does', () => {
    const read = literal('select v from t limit ?');
    expect(() => read.all(['many'])).toThrow(/datatype mismatch/);
    expect(prepared).toEqual([]);
  });
});
