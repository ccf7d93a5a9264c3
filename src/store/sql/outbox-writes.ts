import { sql, type Compilable } from 'kysely';
import type { Db, Dialect, Shapes } from './connection.js';

/** An outbox row as a transaction writes it (the id comes when it is flushed). */
export interface PendingOutboxRow {
  readonly build_id: number;
  readonly type: string;
  readonly payload: string;
  readonly created_at: number;
}

/**
 * One outbox row as a fixed-shape statement (for a sender of its own, see `statement-sender.ts`):
 * on PostgreSQL the lock and the INSERT in one statement, as {@link insertOutboxRows} does. A
 * transaction may take the lock more than once; it holds it until its commit either way.
 */
export const outboxRowStatements = {
  insert: (db: Db, p: OutboxRowParams) =>
    db
      .insertInto('outbox')
      .values({ build_id: p.buildId, type: p.type, payload: p.payload, created_at: p.createdAt }),
  insertLocked: (db: Db, p: OutboxRowParams): Compilable => {
    const q = sql`insert into outbox (build_id, type, payload, created_at)
      select ${p.buildId}::bigint, ${p.type}::text, ${p.payload}::text, ${p.createdAt}::bigint
        from (select pg_advisory_xact_lock(${LOCK_KEY})) as l`;
    return { compile: () => q.compile(db) };
  },
};

/** The one-row insert `dialect` needs: with the lock where ids could commit out of order. */
export function outboxRowInsert(dialect: Dialect): (db: Db, p: OutboxRowParams) => Compilable {
  return dialect.outboxIdsNeedLock ? outboxRowStatements.insertLocked : outboxRowStatements.insert;
}

export interface OutboxRowParams extends Record<string, unknown> {
  readonly buildId: number;
  readonly type: string;
  readonly payload: string;
  readonly createdAt: number;
}

/** The rows each open transaction ({@link openOutbox}) has written so far, in order. */
const pending = new WeakMap<object, PendingOutboxRow[]>();

/** The outbox lock of the schema the connection works in. */
const LOCK_KEY = sql`hashtext('nightless.outbox.' || current_schema())`;

/** Rows per INSERT when flushing: far below PostgreSQL's 65,535 parameters (4 per row). */
const CHUNK = 1000;

/**
 * Why outbox rows are held back until the end of their transaction, and why PostgreSQL then takes
 * a lock: every reader of the outbox (the relay, SSE, each report target) keeps a cursor and
 * reads `id > cursor`. That is only correct if a row never becomes visible after a row with a
 * larger id. On PostgreSQL an identity is taken at INSERT, but transactions commit in their own
 * order: a scheduler batch that took id 41 and is still writing lets a claim commit id 42; a
 * reader sees 42, moves its cursor past 41, and 41's event is never delivered.
 *
 * The fix keeps ids in commit order: the rows a transaction writes are buffered here and
 * inserted as its last statements, after `pg_advisory_xact_lock` on a key of this schema
 * ({@link Dialect.outboxIdsNeedLock}). The lock is held from taking the ids until the commit
 * (PostgreSQL releases transaction locks only after the commit is visible), so whoever takes the
 * next id does it after this transaction is visible. The critical section is one INSERT and the
 * commit, and its holder waits for nothing else, so it cannot deadlock with row locks. SQLite
 * has one writer at a time, which already commits ids in order: no lock there.
 *
 * Lifecycle: {@link openOutbox} when a transaction starts, {@link bufferOutbox} for each row,
 * {@link flushOutbox} right before the commit (all three done by `SqlConnection.transaction`).
 */
export function openOutbox(trx: object): void {
  pending.set(trx, []);
}

/** Adds a row to `trx`'s outbox rows; throws outside `SqlConnection.transaction` (no lock there). */
export function bufferOutbox(trx: Db, row: PendingOutboxRow): void {
  const rows = pending.get(trx);
  if (rows === undefined)
    throw new Error('outbox rows are written inside SqlConnection.transaction only');
  rows.push(row);
}

/** Inserts `trx`'s buffered rows (see {@link openOutbox}); call as the transaction's last write. */
export async function flushOutbox(trx: Db, dialect: Dialect, shapes: Shapes): Promise<void> {
  const rows = pending.get(trx);
  pending.delete(trx);
  if (rows === undefined || rows.length === 0) return;
  const [only] = rows;
  // The common case (a claim, a finish: one row) keeps its compiled statement.
  if (rows.length === 1 && only) {
    await shapes.run(trx, outboxRowInsert(dialect), {
      buildId: only.build_id,
      type: only.type,
      payload: only.payload,
      createdAt: only.created_at,
    });
  } else await insertOutboxRows(trx, dialect, rows);
}

/**
 * Inserts rows now, in order, and returns their ids; `trx` must commit right after (no other
 * write may follow, or the lock would be held while waiting for it).
 */
export async function insertOutboxRows(
  trx: Db,
  dialect: Dialect,
  rows: readonly PendingOutboxRow[],
): Promise<number[]> {
  const ids: number[] = [];
  for (let i = 0; i < rows.length; i += CHUNK) {
    const chunk = rows.slice(i, i + CHUNK);
    const inserted = dialect.outboxIdsNeedLock
      ? (await lockedInsert(chunk).execute(trx)).rows
      : await trx.insertInto('outbox').values(chunk).returning('id').execute();
    // Ids of one multi-row INSERT follow the VALUES order on both backends.
    for (const r of inserted) ids.push(Number(r.id));
  }
  return ids;
}

/**
 * The lock and the INSERT in one statement: the lock is held from here to the commit, and every
 * round trip saved inside that window is time other writers do not wait. A joined row needs the
 * lock's row, so the ids (taken as rows are produced, in `ord` order) come after the lock.
 */
function lockedInsert(rows: readonly PendingOutboxRow[]) {
  const values = sql.join(
    rows.map(
      (r, i) =>
        sql`(${i}::int, ${r.build_id}::bigint, ${r.type}::text, ${r.payload}::text, ${r.created_at}::bigint)`,
    ),
  );
  return sql<{ id: number }>`insert into outbox (build_id, type, payload, created_at)
    select v.build_id, v.type, v.payload, v.created_at
      from (select pg_advisory_xact_lock(${LOCK_KEY})) as l,
           (values ${values}) as v(ord, build_id, type, payload, created_at)
     order by v.ord
    returning id`;
}
