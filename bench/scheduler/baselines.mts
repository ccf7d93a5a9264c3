/**
 * The simplest thing each scenario could possibly cost: bare better-sqlite3 on a fresh file with
 * the store's pragmas (WAL, synchronous NORMAL). Measured in the same run as the scenarios so the
 * ratio stays meaningful on a noisy machine.
 */
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { stopwatch, type Span } from './lib.mjs';

function open(dir: string): BetterSqlite3.Database {
  const db = new BetterSqlite3(join(dir, 'baseline.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec(`create table rows (
    id integer primary key autoincrement,
    job text not null,
    state text not null,
    fingerprint text not null,
    payload text not null,
    at integer not null
  )`);
  return db;
}

const row = (i: number) => ({
  job: `j${i}`,
  state: 'queued',
  fingerprint: `${i}`.padStart(64, '0'),
  payload: '{"kind":"version"}',
  at: Date.now(),
});

/** (a) one row inserted in its own transaction, `n` times: per-transaction wall and CPU ms. */
export function singleInsertLatencies(dir: string, n: number): Span[] {
  const db = open(dir);
  const insert = db.prepare(
    'insert into rows (job, state, fingerprint, payload, at) values (@job, @state, @fingerprint, @payload, @at)',
  );
  const tx = db.transaction((i: number) => insert.run(row(i)));
  for (let i = 0; i < 200; i++) tx(i);
  const out: Span[] = [];
  for (let i = 0; i < n; i++) {
    const stop = stopwatch();
    tx(i);
    out.push(stop());
  }
  db.close();
  return out;
}

/** (b)/(c) `total` rows in transactions of `batch` rows: elapsed wall and CPU ms. */
export function batchedInserts(dir: string, total: number, batch: number): Span {
  const db = open(dir);
  const insert = db.prepare(
    'insert into rows (job, state, fingerprint, payload, at) values (@job, @state, @fingerprint, @payload, @at)',
  );
  const tx = db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) insert.run(row(i));
  });
  const stop = stopwatch();
  for (let from = 0; from < total; from += batch) tx(from, Math.min(total, from + batch));
  const elapsed = stop();
  db.close();
  return elapsed;
}
