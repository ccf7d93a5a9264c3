import type { Compilable, QueryResult } from 'kysely';
import { asError, type CompiledShape, type Db, type Dialect, type Shapes } from './connection.js';
import { outboxRowInsert, type OutboxRowParams } from './outbox-writes.js';

/**
 * Where the decision writer sends its statements, in order. A statement's promise settles with its
 * answer; the writer awaits only the answers it needs and leaves the rest to {@link drain}, so
 * that on PostgreSQL a whole decision travels in one round trip instead of one per statement.
 * After a statement fails none of the later ones takes effect, awaited or not.
 */
export interface StatementSender {
  send<P extends Record<string, unknown>, R>(
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): Promise<QueryResult<R>>;
  /**
   * An outbox row of this transaction, held back and sent by {@link drain} after every other
   * statement: outbox ids must commit in order (see `outbox-writes.ts`).
   */
  outbox(row: OutboxRowParams): void;
  /** Sends the outbox rows, then settles when every statement sent has; rejects with the first failure. */
  drain(): Promise<void>;
  /**
   * Ends the sender after `err`: statements not yet run never will be (they reject with the first
   * failure, or `err`); settles when none is still running. Never rejects.
   */
  abort(err: unknown): Promise<void>;
}

/** Tracks what was sent and the first failure, so an un-awaited statement's error is not lost. */
abstract class Tracked implements StatementSender {
  private readonly sent: Promise<unknown>[] = [];
  private readonly outboxRows: OutboxRowParams[] = [];
  protected failure: { readonly err: unknown } | null = null;

  constructor(private readonly dialect: Dialect) {}

  abstract send<P extends Record<string, unknown>, R>(
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): Promise<QueryResult<R>>;

  protected track<R>(answer: Promise<QueryResult<R>>): Promise<QueryResult<R>> {
    const tracked = answer.catch((err: unknown) => {
      this.failure ??= { err };
      throw err;
    });
    // Observed here, so a statement nobody awaits never becomes an unhandled rejection.
    this.sent.push(tracked.catch(() => undefined));
    return tracked;
  }

  outbox(row: OutboxRowParams): void {
    this.outboxRows.push(row);
  }

  async drain(): Promise<void> {
    const insert = outboxRowInsert(this.dialect);
    for (const row of this.outboxRows.splice(0)) void this.send(insert, row);
    // Bounded: statements are only sent by the writer, which has stopped when drain is called.
    for (let i = 0; i < this.sent.length; i++) await this.sent[i];
    if (this.failure) throw this.failure.err;
  }

  async abort(err: unknown): Promise<void> {
    this.failure ??= { err };
    this.outboxRows.length = 0;
    await this.drain().catch(() => undefined);
  }
}

/**
 * Runs each statement after the previous one answered (SQLite: embedded, so waiting costs
 * nothing). A statement sent after a failure is not run: it rejects with that failure, as
 * PostgreSQL answers statements after a failed one in a transaction.
 */
export class SequentialSender extends Tracked {
  private last: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly shapes: Shapes,
    private readonly trx: Db,
    dialect: Dialect,
  ) {
    super(dialect);
  }

  send<P extends Record<string, unknown>, R>(
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): Promise<QueryResult<R>> {
    const answer = this.last.then(() => {
      if (this.failure) throw this.failure.err;
      return this.shapes.run(this.trx, build, params);
    });
    this.last = answer.catch(() => undefined);
    return this.track(answer);
  }
}

/**
 * Runs each statement when it is sent, synchronously (`Shapes.runAtOnce`, SQLite): the same order
 * and the same failure rule as {@link SequentialSender}. A statement's answer (or its failure) is
 * known before `send` returns, so nothing is left to track: no promise chain per statement and
 * nothing for `drain` to wait for (the decision writer sends a dozen statements per event, and
 * their promises were an eighth of what a webhook request allocated; bench/RESULTS.md, "Ingest").
 * Only inside the transaction that holds the connection (`trx`, used to compile).
 */
export class ImmediateSender implements StatementSender {
  private readonly outboxRows: OutboxRowParams[] = [];
  private failure: Error | null = null;

  constructor(
    /** Built with the backend's `runNow` (see `Shapes.runAtOnce`). */
    private readonly shapes: Shapes,
    private readonly trx: Db,
    private readonly dialect: Dialect,
  ) {}

  send<P extends Record<string, unknown>, R>(
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): Promise<QueryResult<R>> {
    if (this.failure) return observedRejection(this.failure);
    try {
      return Promise.resolve(this.shapes.runAtOnce(this.trx, build, params));
    } catch (err) {
      this.failure = asError(err);
      return observedRejection(this.failure);
    }
  }

  outbox(row: OutboxRowParams): void {
    this.outboxRows.push(row);
  }

  drain(): Promise<void> {
    const insert = outboxRowInsert(this.dialect);
    for (const row of this.outboxRows.splice(0)) void this.send(insert, row);
    return this.failure ? Promise.reject(this.failure) : Promise.resolve();
  }

  abort(err: unknown): Promise<void> {
    this.failure ??= asError(err);
    this.outboxRows.length = 0;
    return Promise.resolve();
  }
}

/** A rejected answer nobody has to await: a statement the writer sends and forgets. */
function observedRejection<T>(err: Error): Promise<T> {
  const p = Promise.reject(err);
  p.catch(() => undefined);
  return p;
}

/** Puts each statement on the wire at once (see `PipelinedTransactions`). */
export class PipelinedSender extends Tracked {
  constructor(
    private readonly shapes: Shapes,
    /** Only compiles statements (the dialect's SQL); never runs one. */
    private readonly compiler: Db,
    private readonly wire: (q: CompiledShape) => Promise<QueryResult<unknown>>,
    dialect: Dialect,
  ) {
    super(dialect);
  }

  send<P extends Record<string, unknown>, R>(
    build: (db: Db, p: P) => Compilable<R>,
    params: P,
  ): Promise<QueryResult<R>> {
    const q = this.shapes.compile(this.compiler, build, params);
    return this.track(this.wire(q) as Promise<QueryResult<R>>);
  }
}
