import type { DatabaseConnection, Driver, TransactionSettings } from 'kysely';
import { PostgresDialect } from 'kysely';
import { StoreUnavailableError } from '../ports/unavailable.js';

/**
 * SQLSTATEs and socket errors that mean "the server is not there", not "the statement is wrong":
 * class 08 (connection exception), 57P01–57P03 (shutting down, crashed, starting up), 53300 (no
 * free connection slot), and the socket errors node-postgres passes through.
 */
const LOST_STATES = new Set(['57P01', '57P02', '57P03', '53300']);
const LOST_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** node-postgres says these in words only (no code). */
const LOST_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'is not queryable',
  'Query read timeout',
  'Client was closed',
];

/** Whether a driver error means the database is unreachable (see {@link StoreUnavailableError}). */
export function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (code.startsWith('08') || LOST_STATES.has(code))) return true;
  if (typeof code === 'string' && LOST_ERRNOS.has(code)) return true;
  return LOST_MESSAGES.some((m) => err.message.includes(m));
}

/** `err` as a {@link StoreUnavailableError} when it is a connection loss, else unchanged. */
export function mapped(err: unknown, where: string): unknown {
  if (!isConnectionLoss(err)) return err;
  const why = err instanceof Error ? err.message : String(err);
  // The driver's words are in the message; not as `cause`, which loggers would print again.
  return new StoreUnavailableError(`PostgreSQL at ${where} is unavailable: ${why}`);
}

/**
 * Kysely's PostgreSQL dialect, with connection losses thrown as {@link StoreUnavailableError}
 * (the password-free `where` in the message), so callers outside this folder can tell "retry
 * later" from a bug without knowing the driver. Every statement goes through a connection from
 * `acquireConnection`, so wrapping that connection's `executeQuery` covers queries, BEGIN and
 * COMMIT alike.
 */
export class UnavailableMappingDialect extends PostgresDialect {
  constructor(
    config: ConstructorParameters<typeof PostgresDialect>[0],
    private readonly where: string,
  ) {
    super(config);
  }

  override createDriver(): Driver {
    return new MappingDriver(super.createDriver(), this.where);
  }
}

class MappingDriver implements Driver {
  constructor(
    private readonly inner: Driver,
    private readonly where: string,
  ) {}

  init(): Promise<void> {
    return this.inner.init();
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    let connection: DatabaseConnection;
    try {
      connection = await this.inner.acquireConnection();
    } catch (err) {
      throw mapped(err, this.where);
    }
    const where = this.where;
    // A proxy, not a copy: the driver's release and discard methods (symbol-keyed) and its
    // private fields must reach the real connection.
    return new Proxy(connection, {
      get(target, prop) {
        if (prop === 'executeQuery')
          return async (...args: Parameters<DatabaseConnection['executeQuery']>) => {
            try {
              return await target.executeQuery(...args);
            } catch (err) {
              throw mapped(err, where);
            }
          };
        const value: unknown = Reflect.get(target, prop, target);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
  }

  beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    return this.inner.beginTransaction(connection, settings);
  }

  commitTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.commitTransaction(connection);
  }

  rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    return this.inner.rollbackTransaction(connection);
  }

  releaseConnection(connection: DatabaseConnection): Promise<void> {
    return this.inner.releaseConnection(connection);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }
}
