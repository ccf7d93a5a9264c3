import type { Kysely } from 'kysely';
import type { Store } from '../ports.js';
import type { Database } from '../schema.js';
import { SqlAccessStore } from './access-store.js';
import { SqlAgents } from './agents-store.js';
import { SqlArtifactIndex } from './artifact-index-store.js';
import { SqlChangeRequestStore } from './change-request-store.js';
import { SqlConnection, type Dialect } from './connection.js';
import { SqlDeliveryStore } from './delivery-store.js';
import { SqlInbox } from './inbox-store.js';
import { SqlMeta } from './meta-store.js';
import { SqlOutbox } from './outbox-store.js';
import { SqlQueue } from './queue-store.js';
import { SqlReadModel } from './read-store.js';
import { SqlRetention } from './retention-store.js';
import { SqlScheduler } from './scheduler-store.js';
import { SqlSources } from './source-store.js';
import { SqlTraces } from './trace-store.js';
import { SqlSharedBlobs } from './shared-blob-store.js';
import { SqlSharedLogs } from './shared-log-store.js';

/**
 * The store over Kysely: every port's module over one connection. The same queries serve every
 * SQL backend; a backend folder only opens the connection and states its {@link Dialect}.
 */
export function createSqlStore(
  db: Kysely<Database>,
  dialect: Dialect,
  onClose: () => Promise<void>,
): Store {
  const conn = new SqlConnection(db, dialect);
  return {
    inbox: new SqlInbox(conn),
    scheduler: new SqlScheduler(conn),
    queue: new SqlQueue(conn),
    sources: new SqlSources(conn),
    read: new SqlReadModel(conn),
    outbox: new SqlOutbox(conn),
    deliveries: new SqlDeliveryStore(conn),
    artifacts: new SqlArtifactIndex(conn),
    retention: new SqlRetention(conn),
    access: new SqlAccessStore(conn),
    meta: new SqlMeta(conn),
    requests: new SqlChangeRequestStore(conn),
    agents: new SqlAgents(conn),
    traces: new SqlTraces(conn),
    logs: new SqlSharedLogs(conn),
    blobs: new SqlSharedBlobs(conn),
    close: onClose,
  };
}
