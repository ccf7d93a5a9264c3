import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ChannelModel, type ConfirmChannel } from 'amqplib';
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AmqpSource } from '../../../src/core/pipeline.js';
import { readLog } from '../../../src/executor/log-reader.js';
import { legacyQueueName, queueName } from '../../../src/ingest/amqp/queue-name.js';
import { AmqpSourceConsumer } from '../../../src/ingest/amqp/source-consumer.js';
import { buildServer } from '../../../src/server/build-server.js';
import { INSTALLATION_ID_KEY, readInstallationId } from '../../../src/store/installation-id.js';
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.js';
import { startHarness, type Harness } from '../../../src/testing/harness.js';
import { amqp, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { runInProcess } from '../../cli/helpers/in-process.js';
import { TOKEN_SHA256 } from '../../server/helpers.js';
import { apiPorts } from '../../../src/app/api-ports.js';

/** Issue 11 point 14: a bus queue belongs to one installation. Real RabbitMQ (CONVENTIONS §14). */
const AMQP_URL = process.env.NIGHTLESS_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

function reachable(url: string): Promise<boolean> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1_000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
    s.connect(Number(u.port || 5672), u.hostname);
  });
}

const RABBIT = await reachable(AMQP_URL);
if (!RABBIT) {
  if (process.env.CI === 'true')
    throw new Error(`RabbitMQ is not reachable at ${AMQP_URL}: the AMQP queue tests need it`);
  console.warn(
    `\n*** SKIPPING the AMQP queue tests: RabbitMQ is not reachable at ${AMQP_URL} ***\n`,
  );
}

const quiet = pino({ level: 'silent' });
const BACKOFF = { initialMs: 50, maxMs: 400 };
const TAG = { tag: 'f42-build', name: 'glibc', version: '2.41', release: '3.fc42' };

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function capture(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { level: 'debug' },
    { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) },
  );
  return { logger, lines };
}

describe('the installation id', () => {
  it('is made once per database and shared by every server that opens it', async () => {
    const a = await mkdtemp(join(tmpdir(), 'nightless-install-a-'));
    const b = await mkdtemp(join(tmpdir(), 'nightless-install-b-'));
    try {
      const first = await openSqliteStore({ path: join(a, 'nightless.db') });
      const replica = await openSqliteStore({ path: join(a, 'nightless.db') });
      const other = await openSqliteStore({ path: join(b, 'nightless.db') });
      const id = await readInstallationId(first.meta);
      expect(id).toMatch(/^[0-9a-f]{16}$/);
      expect(await readInstallationId(replica.meta)).toBe(id);
      expect(await readInstallationId(other.meta)).not.toBe(id);
      await first.close();
      const reopened = await openSqliteStore({ path: join(a, 'nightless.db') });
      expect(await reopened.meta.get(INSTALLATION_ID_KEY)).toBe(id);
      await Promise.all([reopened.close(), replica.close(), other.close()]);
    } finally {
      await rm(a, { recursive: true, force: true, maxRetries: 5 });
      await rm(b, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});

describe.skipIf(!RABBIT)('amqp source queues per installation (real RabbitMQ)', () => {
  let exchange: string;
  let pipelineName: string;
  let pub: ChannelModel;
  let ch: ConfirmChannel;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeEach(async () => {
    const id = randomBytes(4).toString('hex');
    exchange = `nightless-test-${id}`;
    // Same name in both installations: two checkouts of one repository in directories of the same name.
    pipelineName = `shop-${id}`;
    pub = await connect(AMQP_URL);
    ch = await pub.createConfirmChannel();
  });

  afterEach(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    cleanups.length = 0;
    await ch.deleteExchange(exchange).catch(() => undefined);
    await pub.close().catch(() => undefined);
  });

  function source(over: Partial<AmqpSource> = {}): AmqpSource {
    return {
      ...amqp(),
      name: 'glibc',
      url: AMQP_URL,
      exchange,
      routingKey: 'buildsys.tag',
      match: { tag: 'f42-build', name: 'glibc' },
      versionTemplate: '{version}-{release}',
      ...over,
    };
  }

  async function installation(over: Partial<AmqpSource> = {}, logger: Logger = quiet) {
    const def = source(over);
    const h: Harness = await startHarness(
      pipeline({
        name: pipelineName,
        sources: { glibc: def },
        jobs: { build: job({ inputs: ['glibc'] }) },
      }),
      { slots: 0 },
    );
    cleanups.push(() => h.stop());
    const installationId = await readInstallationId(h.store.meta);
    const consumer = new AmqpSourceConsumer(def, {
      installationId,
      pipelineName,
      logger,
      backoff: BACKOFF,
      ingest: (events) => h.engine.ingestMany(events),
    });
    cleanups.push(async () => {
      await consumer.stop();
      await ch.deleteQueue(consumer.queue).catch(() => undefined);
    });
    consumer.start();
    return { h, consumer, installationId };
  }

  async function versions(h: Harness): Promise<number> {
    await h.decided();
    return (await h.store.read.listSources()).find((s) => s.name === 'glibc')?.eventsReceived ?? 0;
  }

  it('two installations with the same pipeline name each get every matching announcement', async () => {
    const a = await installation();
    const b = await installation();
    await Promise.all([a.consumer.consuming(), b.consumer.consuming()]);
    expect(a.installationId).not.toBe(b.installationId);
    expect(a.consumer.queue).toBe(`nightless.${a.installationId}.glibc`);
    expect(b.consumer.queue).not.toBe(a.consumer.queue);

    for (let i = 0; i < 20; i++) {
      ch.publish(
        exchange,
        'buildsys.tag',
        Buffer.from(JSON.stringify({ ...TAG, release: `${i}` })),
        {
          messageId: `m-${i}`,
        },
      );
      ch.publish(exchange, 'buildsys.tag', Buffer.from(JSON.stringify({ ...TAG, name: 'gcc' })));
    }
    await ch.waitForConfirms();
    await waitFor('20 versions in both installations', async () => {
      const [na, nb] = await Promise.all([versions(a.h), versions(b.h)]);
      return na === 20 && nb === 20;
    });
  });

  it('declares the queue with an expiry: a queue without consumer is gone after queue_expires', async () => {
    const a = await installation({ queueExpiresMs: 1_000 });
    await a.consumer.consuming();
    const queue = a.consumer.queue;
    await a.consumer.stop();
    // checkQueue on a missing queue closes its channel: probe on a channel of its own. A check
    // is a (passive) declaration, which renews the queue's lease: probe rarely.
    const exists = async () => {
      const probe = await pub.createChannel();
      probe.on('error', () => undefined);
      try {
        await probe.checkQueue(queue);
        await probe.close();
        return true;
      } catch {
        return false;
      }
    };
    expect(await exists()).toBe(true);
    await new Promise((r) => setTimeout(r, 2_500));
    expect(await exists()).toBe(false);
  });

  it('a queue already declared with other arguments is a clear error, retried with backoff', async () => {
    // What an upgrade from a queue declared without x-expires, or a changed queue_expires, meets.
    const h = await startHarness(pipeline({ name: pipelineName, jobs: { other: job() } }), {
      slots: 0,
    });
    cleanups.push(() => h.stop());
    const installationId = await readInstallationId(h.store.meta);
    const queue = queueName(installationId, 'glibc');
    await ch.assertQueue(queue, { durable: true });
    cleanups.push(() => ch.deleteQueue(queue));
    const { logger, lines } = capture();
    const consumer = new AmqpSourceConsumer(source({ queueExpiresMs: 60_000 }), {
      installationId,
      pipelineName,
      logger,
      backoff: BACKOFF,
      ingest: (events) => h.engine.ingestMany(events),
    });
    cleanups.push(() => consumer.stop());
    consumer.start();
    await waitFor('three failed declarations', () => consumer.stats.connections >= 3);
    expect(consumer.state).not.toBe('consuming');
    expect(consumer.stats.lastError).toMatch(
      new RegExp(
        `queue ${queue} already exists on the broker with other arguments.*x-expires 60000 ms.*delete the queue`,
      ),
    );
    expect(consumer.stats.lastError).toMatch(/PRECONDITION_FAILED/);
    const errors = lines.filter((l) => l.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]!.reason).toBe(lines.find((l) => l.level === 50)!.reason);
  });

  it('warns about a queue still named the old way (by pipeline) for the source', async () => {
    const legacy = legacyQueueName(pipelineName, 'glibc');
    await ch.assertQueue(legacy, { durable: true });
    ch.sendToQueue(legacy, Buffer.from(JSON.stringify(TAG)));
    await ch.waitForConfirms();
    cleanups.push(() => ch.deleteQueue(legacy));
    const { logger, lines } = capture();
    const a = await installation({}, logger);
    await a.consumer.consuming();
    await waitFor('the warning', () => lines.some((l) => l.legacyQueue === legacy));
    expect(lines.find((l) => l.legacyQueue === legacy)).toMatchObject({
      level: 40,
      queue: a.consumer.queue,
      messages: 1,
    });
  });

  it('`nightless sources` and GET /api/sources show the queue of an amqp source', async () => {
    const a = await installation();
    const app = await buildServer({
      ...apiPorts(a.h.engine, a.h.store, a.h.bus),
      logger: quiet,
      dataDir: a.h.dir,
      artifacts: { openRead: () => process.stdin },
      readLog,
      tokenSha256: TOKEN_SHA256,
      readAuth: false,
      publicUrl: '',
    });
    cleanups.push(() => app.close());
    const res = await app.inject({ url: '/api/sources' });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ sources: Array<{ name: string; queue?: string }> }>();
    expect(body.sources.find((s) => s.name === 'glibc')?.queue).toBe(a.consumer.queue);

    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    const r = await runInProcess(['sources'], {
      env: { NIGHTLESS_SERVER: url, NIGHTLESS_TOKEN: undefined, NO_COLOR: '1' },
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`queue:\\s+${a.consumer.queue}\\n`));
  });
});
