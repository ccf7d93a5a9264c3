/**
 * What `--database` / `NIGHTLESS_DATABASE_URL` may name, checked before any connection is made so
 * a typo is reported as such and not as a connection timeout.
 */
export function parseDatabaseUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`database URL is not a URL: ${redactDatabaseUrl(text)}`);
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new Error(
      `database URL must start with postgres:// or postgresql://, got ${url.protocol}//…`,
    );
  if (url.pathname.length <= 1)
    throw new Error(`database URL names no database: ${redactDatabaseUrl(text)}`);
  return url;
}

/** The URL without its password, for messages and logs (secrets never reach logs). */
export function redactDatabaseUrl(text: string): string {
  try {
    const url = new URL(text);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    // Not a URL: a password may still sit between `:` and `@`.
    return text.replace(/:[^:@/]*@/, ':***@');
  }
}

/** A driver error as one line (node-postgres reports a refused connection as an AggregateError). */
export function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0)
    return err.errors.map(errorMessage).join('; ');
  return err instanceof Error ? err.message : JSON.stringify(err);
}
