/**
 * Persistence ports, split by caller (CONVENTIONS.md §3): one file per port under `ports/`, and
 * `Store`, the record of them all that an adapter opens. Each caller depends only on the ports it
 * uses.
 */
export type * from './ports/inbox.js';
export type * from './ports/scheduler.js';
export type * from './ports/queue.js';
export type * from './ports/sources.js';
export type * from './ports/read.js';
export type * from './ports/outbox.js';
export type * from './ports/deliveries.js';
export type * from './ports/artifacts.js';
export type * from './ports/retention.js';
export type * from './ports/meta.js';
export type * from './ports/change-requests.js';
export type * from './ports/agents.js';
export type * from './ports/traces.js';
export type * from './ports/shared-files.js';
export type * from './ports/store.js';
