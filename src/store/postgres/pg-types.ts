import pg from 'pg';

const INT8_OID = 20;

/**
 * How query results are parsed on the store's connections. node-postgres hands `bigint` (int8)
 * back as a string, because not every int8 fits a JavaScript number; the store's ids, counts and
 * millisecond timestamps all do (2^53 ms is 285,000 years), and the row mappers expect numbers as
 * they get from SQLite. So int8 becomes a number, and a value past `Number.MAX_SAFE_INTEGER`
 * fails loudly instead of being silently rounded. Scoped to the store's pool: the process-wide
 * `pg.types` stays untouched.
 */
export const storeTypes = {
  getTypeParser(oid: number, format?: 'text' | 'binary'): (value: string) => unknown {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    return pg.types.getTypeParser(oid, format ?? 'text') as (value: string) => unknown;
  },
};

export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n))
    throw new RangeError(`PostgreSQL bigint ${text} is outside the safe integer range`);
  return n;
}
