import {
  CompiledQuery,
  type Compilable,
  type Kysely,
  type QueryResult,
  type Transaction,
} from 'kysely';
import type { Database } from '../schema.js';
import { flushOutbox, openOutbox } from './outbox-writes.js';

/** A connection or an open transaction: statements written against it run in either. */
export type Db = Kysely<Database> | Transaction<Database>;

/**
 * What every SQL port module shares: the one connection and the compiled-statement cache. Ports
 * never open their own connection, so a method of one port sees what another committed before it.
 */
export class SqlConnection {
  /** Hot statements compiled once per store (see `Shapes`). */
  readonly shapes: Shapes;

  constructor(
    readonly db: Kysely<Database>,
    /** What the backend folder said it can do (see {@link Dialect}). */
    readonly dialect: Dialect,
  ) {
    this.shapes = new Shapes(dialect.runNow);
  }

  /**
   * Runs `work` in one transaction: committed when it resolves, rolled back when it throws. On
   * SQLite this holds the only writer, so `work` waits on nothing but the database. Outbox rows
   * `work` writes are inserted last, right before the commit (see `outbox-writes.ts`).
   */
  transaction<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      openOutbox(trx);
      const result = await work(trx);
      await flushOutbox(trx, this.dialect, this.shapes);
      return result;
    });
  }

  /** A hot statement (see `Shapes`) on the connection, or on `trx` inside a transaction. */
  run<P extends Record<string, unknown>, R>(
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
    on: Db = this.db,
  ): Promise<QueryResult<R>> {
    return this.shapes.run(on, build, params);
  }
}

/**
 * The differences between SQL backends the shared queries need to know, as capability flags
 * (CONVENTIONS.md §4): a backend folder states them once, the queries branch on the flag, never on
 * a driver name.
 */
export interface Dialect {
  /**
   * `SELECT … FOR UPDATE SKIP LOCKED` exists (PostgreSQL). Without it (SQLite) the one writer
   * already serializes claimers, and the claim's `state = 'queued'` re-check does the rest.
   */
  readonly supportsSkipLocked: boolean;
  /**
   * Concurrent transactions may commit outbox ids out of order (PostgreSQL): outbox rows are then
   * inserted under a transaction-level advisory lock (see `outbox-writes.ts`). SQLite's one
   * writer commits them in order already.
   */
  readonly outboxIdsNeedLock: boolean;
  /** `SELECT … FOR UPDATE` exists (PostgreSQL); SQLite's one writer needs no row locks (absent: false). */
  readonly supportsRowLocks?: boolean;
  /**
   * Auto-increment keys come from sequences (PostgreSQL's `bigserial`), so ids can be reserved with
   * `nextval` before the rows are inserted. Absent: SQLite's AUTOINCREMENT (`sqlite_sequence`).
   */
  readonly sequences?: boolean;
  /**
   * Transactions whose statements are sent without waiting for the answers of earlier ones
   * (PostgreSQL's pipelining). Without it (SQLite: embedded, a statement costs no round trip) the
   * decision writer runs the same statements one after the other in an ordinary transaction.
   */
  readonly pipelined?: PipelinedTransactions;
  /**
   * Runs a compiled statement at once, on the connection the caller's open transaction holds
   * (SQLite: embedded and synchronous). The decision writer sends a dozen small statements per
   * event; this skips the query builder's executor (its connection lock, promises and result
   * copies), which cost more CPU than SQLite running them (bench/RESULTS.md, "Ingest").
   */
  readonly runNow?: (sql: string, parameters: readonly unknown[]) => QueryResult<unknown>;
}

/** A statement ready to send: its SQL, its parameters, and a name to prepare it under once. */
export interface CompiledShape {
  readonly sql: string;
  readonly parameters: readonly unknown[];
  readonly name: string;
}

/**
 * Runs `work` in one transaction on one connection where `send` puts a statement on the wire at
 * once and its promise settles when its answer arrives (answers come in the order sent). Once a
 * statement fails the server ignores the rest of the transaction and it is rolled back; the
 * transaction rejects with that first failure, also when `work` never awaited the statement.
 */
export interface PipelinedTransactions {
  run<T>(
    work: (send: (q: CompiledShape) => Promise<QueryResult<unknown>>) => Promise<T>,
  ): Promise<T>;
}

export const SQLITE_DIALECT: Dialect = {
  supportsSkipLocked: false,
  supportsRowLocks: false,
  outboxIdsNeedLock: false,
};

/**
 * Kysely builds and compiles a query tree on every call, which costs more than running a small
 * statement (the SQLite adapter already reuses prepared statements by SQL text). Hot statements
 * go through here instead: each builder is compiled once per store, with a marker in place of
 * every parameter, and later calls run the same SQL with the new values in the compiled order.
 * A builder must pass its parameters through verbatim (no `??`, no branching on them), and every
 * parameter must be given (use `null`, never `undefined`).
 */
export class Shapes {
  private readonly compiled = new Map<object, Shape>();

  constructor(
    /**
     * Where the backend runs a statement at once (SQLite, see {@link Dialect.runNow}): used inside
     * a transaction, which holds the one connection, so no other statement can be in between.
     * Outside one, statements queue for the connection like any other query.
     */
    private readonly runNow?: Dialect['runNow'],
  ) {}

  run<P extends Record<string, unknown>, R>(
    db: Db,
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): Promise<QueryResult<R>> {
    if (this.runNow && db.isTransaction) {
      try {
        return Promise.resolve(this.runAtOnce(db, build, params));
      } catch (err) {
        return Promise.reject(asError(err));
      }
    }
    const { sql, parameters } = this.compile(db, build, params);
    return db.executeQuery(CompiledQuery.raw(sql, [...parameters]));
  }

  /**
   * Runs the statement now, on the connection `db`'s open transaction holds, and returns its
   * answer or throws (backends with {@link Dialect.runNow} only).
   */
  runAtOnce<P extends Record<string, unknown>, R>(
    db: Db,
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): QueryResult<R> {
    if (!this.runNow) throw new Error('this backend cannot run a statement at once (no runNow)');
    const { sql, parameters } = this.compile(db, build, params);
    return this.runNow(sql, parameters) as QueryResult<R>;
  }

  /**
   * The statement `run` would execute, for a sender of its own (see {@link PipelinedTransactions});
   * `db` only compiles. The name is the shape's, stable for the store's life, so a connection
   * prepares each shape once.
   */
  compile<P extends Record<string, unknown>, R>(
    db: Db,
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): CompiledShape {
    let shape = this.compiled.get(build);
    if (!shape) {
      shape = { ...compileShape(db, build, Object.keys(params)), name: `nl_${this.compiled.size}` };
      this.compiled.set(build, shape);
    }
    const parameters = shape.slots.map((s) => ('key' in s ? params[s.key] : s.value));
    return { sql: shape.sql, parameters, name: shape.name };
  }
}

/** What was thrown, as an Error (a rejection reason must be one). */
export function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

interface Shape {
  readonly name: string;
  readonly sql: string;
  readonly slots: ReadonlyArray<{ readonly key: string } | { readonly value: unknown }>;
}

class Marker {
  constructor(readonly key: string) {}
}

function compileShape<P>(
  db: Db,
  build: (db: Db, p: P) => Compilable,
  keys: readonly string[],
): Omit<Shape, 'name'> {
  const markers = Object.fromEntries(keys.map((k) => [k, new Marker(k)])) as P;
  const compiled = build(db, markers).compile();
  const used = new Set<string>();
  const slots = compiled.parameters.map((p) => {
    if (!(p instanceof Marker)) return { value: p };
    used.add(p.key);
    return { key: p.key };
  });
  const unused = keys.filter((k) => !used.has(k));
  if (unused.length > 0) throw new Error(`query shape ignores parameters: ${unused.join(', ')}`);
  return { sql: compiled.sql, slots };
}
