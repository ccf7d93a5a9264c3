import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bus } from '../../src/bus/port.js';
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { AmqpBus } from '../../src/bus/amqp/amqp-bus.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { AMQP_URL, rabbitUnavailable } from '../bus/rabbit.js';
import type { AccessPort } from '../../src/store/access-ports.js';
import type {
  AgentsPort,
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
export const agents = (s: StoreUnderTest): AgentsPort => s.agents;

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
        await rm(dir, { recursive: true, force: true, maxRetries: 5 });
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
  /** Why the backend cannot run here (a service is not reachable), or null. */
  unavailable?(): Promise<string | null>;
}

export const memoryBus: BusAdapter = {
  name: 'in-process',
  settleMs: 20,
  open() {
    const bus = new MemoryBus();
    return Promise.resolve({ bus, dispose: () => bus.close() });
  },
};

/**
 * RabbitMQ, seen as two replicas of one installation: what the suite publishes goes out on one
 * bus and what it subscribes to comes in on the other, so every message makes the round trip
 * through the broker (a bus delivers its own messages locally, which would prove nothing). Each
 * `open` gets its own scope (routing-key prefix): concurrent runs on one broker never mix.
 */
export const amqpBus: BusAdapter = {
  name: 'amqp (RabbitMQ, across two replicas)',
  settleMs: 150,
  unavailable: rabbitUnavailable,
  async open() {
    const scope = `conformance-${randomUUID()}`;
    const replica = (name: string) =>
      AmqpBus.start({ url: AMQP_URL, scope, name, logger: pino({ level: 'silent' }) });
    const sender = replica('conformance-a');
    const receiver = replica('conformance-b');
    await Promise.all([sender.ready(5_000), receiver.ready(5_000)]);
    const close = async () => {
      await Promise.all([sender.close(), receiver.close()]);
    };
    const bus: Bus = {
      publish: (topic, message) => sender.publish(topic, message),
      subscribe: (topic, handler) => receiver.subscribe(topic, handler),
      close,
    };
    return { bus, dispose: close };
  },
};

/** Every bus backend. */
export const busAdapters: readonly BusAdapter[] = [memoryBus, amqpBus];
