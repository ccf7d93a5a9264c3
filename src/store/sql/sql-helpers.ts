import { sql } from 'kysely';

export function nullableNumber(v: number | null): number | null {
  return v === null ? null : Number(v);
}

/** `column` starts with `prefix`, without LIKE's wildcard and escape differences between backends. */
export function startsWith(column: string, prefix: string) {
  return sql<boolean>`substr(${sql.ref(column)}, 1, ${prefix.length}) = ${prefix}`;
}
