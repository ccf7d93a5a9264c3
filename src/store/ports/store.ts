import type { AccessPort } from '../access-ports.js';
import type { AgentsPort } from './agents.js';
import type { ArtifactIndexPort } from './artifacts.js';
import type { ChangeRequestPort } from './change-requests.js';
import type { DeliveryPort } from './deliveries.js';
import type { InboxPort } from './inbox.js';
import type { MetaPort } from './meta.js';
import type { OutboxPort } from './outbox.js';
import type { QueuePort } from './queue.js';
import type { ReadPort } from './read.js';
import type { RetentionPort } from './retention.js';
import type { SchedulerPort } from './scheduler.js';
import type { SourcePort } from './sources.js';
import type { TracePort } from './traces.js';
import type { SharedBlobPort, SharedLogPort } from './shared-files.js';

/**
 * One open store: a record of ports over one database (CONVENTIONS.md §3). A caller is handed the
 * ports it uses (`store.queue`, `store.read`), never the record, except the composition root that
 * opens and closes it. Every port method is one statement or one transaction; the ports share one
 * connection, so a method of one port sees what another committed before it.
 */
export interface Store {
  readonly inbox: InboxPort;
  readonly scheduler: SchedulerPort;
  readonly queue: QueuePort;
  readonly sources: SourcePort;
  readonly read: ReadPort;
  readonly outbox: OutboxPort;
  readonly deliveries: DeliveryPort;
  readonly artifacts: ArtifactIndexPort;
  readonly retention: RetentionPort;
  readonly access: AccessPort;
  readonly meta: MetaPort;
  /** Change requests as forges describe them, and approvals of fork heads. */
  readonly requests: ChangeRequestPort;
  /** Build agents and their leases (scale-out; `runner/remote/`). */
  readonly agents: AgentsPort;
  /** Versions' downstream traces: when each was done (the `lead_time` SLO). */
  readonly traces: TracePort;
  /** Build logs in the database (PostgreSQL installations share them between replicas). */
  readonly logs: SharedLogPort;
  /** Blobs of the content-addressed store in the database (same). */
  readonly blobs: SharedBlobPort;
  /** Closes the connection; no port may be called afterwards. */
  close(): Promise<void>;
}
