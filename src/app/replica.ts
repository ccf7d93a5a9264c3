import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Leadership } from '../leader/port.js';
import { PgAdvisoryLeadership } from '../leader/pg-advisory-leadership.js';

/** One server replica among several sharing a PostgreSQL database. */
export interface Replica {
  /** Its worker name: stable across restarts, so a restarted replica recovers its own builds. */
  readonly name: string;
  readonly leadership: Leadership;
}

/**
 * `host-xxxxxxxx`: the host name and a digest of the data directory. Each replica has a data
 * directory of its own (the data-dir lock refuses a second server), so the name is unique, and it
 * stays the same when the replica restarts.
 */
export function replicaName(dataDir: string): string {
  const digest = createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 8);
  return `${hostname()}-${digest}`;
}

/** A replica of a server whose store is the PostgreSQL database `database`. */
export function postgresReplica(database: string, dataDir: string, logger: Logger): Replica {
  const name = replicaName(dataDir);
  return { name, leadership: new PgAdvisoryLeadership({ url: database, name, logger }) };
}
