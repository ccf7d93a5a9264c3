import { describe, expect, it } from 'vitest';
import { isConnectionLoss } from '../../src/store/postgres/connection-loss.js';
import { openPostgresStore } from '../../src/store/postgres/open-postgres-store.js';
import { StoreUnavailableError } from '../../src/store/ports/unavailable.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import { TcpRelay } from '../bus/tcp-relay.js';

const PG = await postgresAvailable('the connection-loss tests');

const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

describe('which driver errors mean "the database is unavailable"', () => {
  it.each([
    ['server shutting down (57P01)', withCode('terminating connection', '57P01'), true],
    ['server starting up (57P03)', withCode('the database system is starting up', '57P03'), true],
    ['connection exception (08006)', withCode('connection failure', '08006'), true],
    ['refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'), true],
    ['reset', withCode('read ECONNRESET', 'ECONNRESET'), true],
    ['dropped mid-query', new Error('Connection terminated unexpectedly'), true],
    ['pool connect timeout', new Error('timeout exceeded when trying to connect'), true],
    ['silent server', new Error('Query read timeout'), true],
    ['a unique violation is a bug, not an outage', withCode('duplicate key', '23505'), false],
    ['a syntax error', withCode('syntax error at or near', '42601'), false],
    ['statement timeout (the query, not the server)', withCode('canceling', '57014'), false],
    ['not an error', 'Connection terminated', false],
  ])('%s', (_what, err, lost) => {
    expect(isConnectionLoss(err)).toBe(lost);
  });
});

describe.skipIf(!PG)('a PostgreSQL store whose connections are cut (real PostgreSQL)', () => {
  it('throws StoreUnavailableError, survives a connection dropped inside a transaction, and works again once the network is back', async () => {
    const db = new URL(TEST_PG_URL);
    const relay = await TcpRelay.to({ host: db.hostname, port: Number(db.port || 5432) });
    await relay.up();
    const url = new URL(TEST_PG_URL);
    url.port = String(relay.port);
    const schema = uniqueSchema();
    const store = await openPostgresStore({
      url: url.toString(),
      schema,
      connectTimeoutMs: 1000,
    });
    try {
      await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
      // A transaction holding its connection between two statements when the network goes:
      // node-postgres emits 'error' on that client; unheard, it would crash this process.
      const inFlight = store.scheduler
        .batchDecisions(async () => {
          await relay.down();
          await new Promise((r) => setTimeout(r, 200));
          return store.read.lastOutboxId();
        })
        .catch((e: unknown) => e);
      expect(await inFlight).toBeInstanceOf(Error);
      const err = await store.read.lastOutboxId().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreUnavailableError);
      expect((err as Error).message).toMatch(
        /PostgreSQL at postgres:\/\/.*127\.0\.0\.1.* is unavailable/,
      );
      await relay.up();
      // The pool replaced the dropped connections: the next statements just work.
      expect(await store.read.lastOutboxId()).toBe(0);
      expect((await store.sources.sourceHeads('app')).length).toBe(0);
    } finally {
      await relay.down();
      await store.close().catch(() => undefined);
      await dropSchema(schema);
    }
  }, 30_000);
});
