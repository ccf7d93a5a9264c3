import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../../src/bus/port.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { AccessPort } from '../../src/store/access-ports.js';
import type {
  ArtifactIndexPort,
  DeliveryPort,
  InboxPort,
  MetaPort,
  OutboxPort,
  QueuePort,
  ReadPort,
  RetentionPort,
  SchedulerPort,
  SourcePort,
  Store,
} from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import {
  openRecycledPostgresStore,
  postgresAvailable,
} from '../../src/testing/postgres-fixture.js';

/**
 * The one file the conformance suites reach the store through. Suites call `inbox(store)`,
 * `queue(store)`, … and never a method on the store itself, so when the store becomes a record of
 * ports (`store.inbox`, `store.queue`, …) only these accessors change.
 */
export type StoreUnderTest = Store;

export const inbox = (s: StoreUnderTest): InboxPort => s.inbox;
/** Decision writer + scheduler state (`loadSchedulerState`, `pendingEvents`, settles). */
export const scheduler = (s: StoreUnderTest): SchedulerPort => s.scheduler;
export const queue = (s: StoreUnderTest): QueuePort => s.queue;
export const sources = (s: StoreUnderTest): SourcePort => s.sources;
export const reads = (s: StoreUnderTest): ReadPort => s.read;
export const outbox = (s: StoreUnderTest): OutboxPort => s.outbox;
export const deliveries = (s: StoreUnderTest): DeliveryPort => s.deliveries;
export const artifactIndex = (s: StoreUnderTest): ArtifactIndexPort => s.artifacts;
export const retention = (s: StoreUnderTest): RetentionPort => s.retention;
export const access = (s: StoreUnderTest): AccessPort => s.access;
export const meta = (s: StoreUnderTest): MetaPort => s.meta;

export interface OpenedStore {
  readonly store: StoreUnderTest;
  /** Closes the store and removes whatever the adapter created (files, schemas). */
  dispose(): Promise<void>;
}

/** One backend the suites run on: `open` gives a fresh, empty, migrated store each time. */
export interface StoreAdapter {
  readonly name: string;
  open(): Promise<OpenedStore>;
}

export const sqliteMemory: StoreAdapter = {
  name: 'sqlite :memory:',
  async open() {
    const store = await openSqliteStore({ path: ':memory:' });
    return { store, dispose: () => store.close() };
  },
};

export const sqliteFile: StoreAdapter = {
  name: 'sqlite file (WAL)',
  async open() {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-conformance-'));
    const store = await openSqliteStore({ path: join(dir, 'nightless.db') });
    return {
      store,
      async dispose() {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

/**
 * A schema of its own on the test database, emptied after each test and reused by the next in
 * the same file (suites that use it call `dropSpareSchemas` in `afterAll`).
 */
export const postgres: StoreAdapter = {
  name: 'postgresql',
  open: () => openRecycledPostgresStore(),
};

/**
 * Every store backend. PostgreSQL is left out (with a loud warning) when the test server is not
 * reachable, except under `CI=true`, where that fails the run instead.
 */
export const storeAdapters: readonly StoreAdapter[] = [
  sqliteMemory,
  sqliteFile,
  ...((await postgresAvailable('the store conformance suites')) ? [postgres] : []),
];

/** One bus backend: `open` gives a fresh bus; `settleMs` bounds how late a delivery may be. */
export interface BusAdapter {
  readonly name: string;
  /** How long to wait before concluding that a message was not delivered. */
  readonly settleMs: number;
  open(): Promise<{ readonly bus: Bus; dispose(): Promise<void> }>;
}

export const memoryBus: BusAdapter = {
  name: 'in-process',
  settleMs: 20,
  open() {
    const bus = new MemoryBus();
    return Promise.resolve({ bus, dispose: () => bus.close() });
  },
};

/** Every bus backend; the AMQP adapter is one more entry here. */
export const busAdapters: readonly BusAdapter[] = [memoryBus];
