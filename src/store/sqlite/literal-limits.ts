/**
 * SQLite (3.53, as better-sqlite3 12 bundles it) plans a statement for the value bound to its
 * `LIMIT` and marks that parameter so that binding it again re-plans the statement. better-sqlite3
 * binds every parameter on every run, so each run of a `… limit ?` statement was compiled anew:
 * about half the time of the scheduler's read of pending events and of the relay's read of the
 * outbox, both run once per event (bench/RESULTS.md, "Scheduler"). `OFFSET` does not do this.
 *
 * Kysely binds every limit. Here a statement whose `LIMIT` is a bound integer runs as the same SQL
 * with that number written in, one prepared statement per distinct limit (a handful: the limits
 * are the callers' batch sizes and page sizes).
 */
import type { SqliteStatement } from 'kysely';

/** A `limit ?` of a statement's SQL: where it is, and the index of the parameter it binds. */
export interface LimitSlot {
  readonly param: number;
  readonly at: number;
  readonly length: number;
}

const LIMIT = /^limit\s+\?(?![0-9])/i;

/**
 * The `limit ?`s of `sql`, in order (Kysely's SQLite output: a `?` per parameter, in the order of
 * the parameters). Quoted strings and identifiers are skipped, as are comments.
 */
export function limitSlots(sql: string): LimitSlot[] {
  const slots: LimitSlot[] = [];
  let param = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '"' || c === '`') {
      i = closing(sql, i, c);
    } else if (c === '[') {
      i = closing(sql, i, ']');
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      i = end === -1 ? sql.length : end;
    } else if (c === '/' && sql[i + 1] === '*') {
      const end = sql.indexOf('*/', i + 2);
      i = end === -1 ? sql.length : end + 1;
    } else if (c === '?') {
      param++;
    } else if ((c === 'l' || c === 'L') && !wordChar(sql[i - 1])) {
      const m = LIMIT.exec(sql.slice(i, i + 32));
      if (m) {
        slots.push({ param, at: i, length: m[0].length });
        param++;
        i += m[0].length - 1;
      }
    }
  }
  return slots;
}

/**
 * `sql` with the limits of `params` at `slots` written in, and the other parameters; `null` when
 * one of those limits is not a non-negative safe integer (left bound: SQLite says what is wrong).
 */
export function inlineLimits(
  sql: string,
  slots: readonly LimitSlot[],
  params: readonly unknown[],
): { sql: string; params: unknown[] } | null {
  let text = '';
  let from = 0;
  for (const { param, at, length } of slots) {
    const v = params[param];
    const literal =
      (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) ||
      (typeof v === 'bigint' && v >= 0n && v <= BigInt(Number.MAX_SAFE_INTEGER));
    if (!literal) return null;
    text += `${sql.slice(from, at)}limit ${String(v)}`;
    from = at + length;
  }
  const bound = new Set(slots.map((s) => s.param));
  return { sql: text + sql.slice(from), params: params.filter((_, i) => !bound.has(i)) };
}

/**
 * `bound` (prepared from `sql`, whose `LIMIT`s are at `slots`) run with its limits written in:
 * `prepare` gives the statement for each such SQL (the store's statement cache).
 */
export function withLiteralLimits(
  bound: SqliteStatement,
  sql: string,
  slots: readonly LimitSlot[],
  prepare: (sql: string) => SqliteStatement,
): SqliteStatement {
  const pick = (params: readonly unknown[]): [SqliteStatement, readonly unknown[]] => {
    const inlined = inlineLimits(sql, slots, params);
    return inlined ? [prepare(inlined.sql), inlined.params] : [bound, params];
  };
  return {
    reader: bound.reader,
    all: (params) => {
      const [stmt, p] = pick(params);
      return stmt.all(p);
    },
    run: (params) => {
      const [stmt, p] = pick(params);
      return stmt.run(p);
    },
    iterate: (params) => {
      const [stmt, p] = pick(params);
      return stmt.iterate(p);
    },
  };
}

function closing(sql: string, from: number, quote: string): number {
  for (let i = from + 1; i < sql.length; i++) {
    if (sql[i] !== quote) continue;
    // A doubled quote inside a quoted string or identifier is the quote itself.
    if (quote !== ']' && sql[i + 1] === quote) i++;
    else return i;
  }
  return sql.length;
}

function wordChar(c: string | undefined): boolean {
  return c !== undefined && /[A-Za-z0-9_$]/.test(c);
}
