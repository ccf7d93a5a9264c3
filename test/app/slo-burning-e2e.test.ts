import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { seededRepo } from '../../src/testing/git.js';

/**
 * End to end, all real: a `nightless serve` whose git source is served by a real `git daemon`;
 * the daemon stops (connections refused), builds fail as `network`, the reliability SLO's
 * fast-burn alert fires, and `dev.nightless.slo.burning` arrives on RabbitMQ.
 */
const AMQP_URL = process.env.NIGHTLESS_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

function reachable(): Promise<boolean> {
  const u = new URL(AMQP_URL);
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(1_000);
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('timeout', () => (s.destroy(), resolve(false)));
    s.once('error', () => resolve(false));
    s.connect(Number(u.port || 5672), u.hostname);
  });
}
const RABBIT = await reachable();
if (!RABBIT) {
  if (process.env.CI === 'true') throw new Error(`RabbitMQ is not reachable at ${AMQP_URL}`);
  console.warn(
    `\n*** SKIPPING the SLO end-to-end test: RabbitMQ is not reachable at ${AMQP_URL} ***\n`,
  );
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startDaemon(base: string, port: number): Promise<ChildProcess> {
  const d = spawn(
    'git',
    [
      'daemon',
      '--reuseaddr',
      '--export-all',
      `--base-path=${base}`,
      '--listen=127.0.0.1',
      `--port=${port}`,
      base,
    ],
    // Its own group: `git daemon` runs git-daemon as a child, which a kill of `git` would miss.
    { stdio: 'ignore', detached: true },
  );
  const until = Date.now() + 10_000;
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
      s.connect(port, '127.0.0.1');
    });
    if (up) return d;
    if (Date.now() > until) throw new Error('git daemon did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stopDaemon(d: ChildProcess): void {
  try {
    process.kill(-d.pid!, 'SIGKILL');
  } catch {
    d.kill('SIGKILL');
  }
}

describe.skipIf(!RABBIT)('SLO burning end to end (git daemon, real server, RabbitMQ)', () => {
  let root = '';
  let n: Nightless | null = null;
  let daemon: ChildProcess | null = null;
  let amqp: ChannelModel | null = null;
  afterEach(async () => {
    await n?.stop();
    if (daemon) stopDaemon(daemon);
    await amqp?.close().catch(() => undefined);
    if (root !== '') await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it('network failures drive the reliability SLO into burning and the event reaches the bus', async () => {
    root = await mkdtemp(join(tmpdir(), 'nightless-slo-e2e-'));
    seededRepo(root);
    const port = await freePort();
    daemon = await startDaemon(root, port);
    const exchange = `nightless-slo-test-${randomBytes(4).toString('hex')}`;

    amqp = await connect(AMQP_URL, { timeout: 5_000 });
    const ch = await amqp.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, 'slo-e2e.slo.#');
    const got: Array<{
      key: string;
      body: { type: string; data: { slo: { name: string; status: string; bad: number } } };
    }> = [];
    await ch.consume(
      queue,
      (m) => {
        if (m) got.push({ key: m.fields.routingKey, body: JSON.parse(m.content.toString()) });
      },
      { noAck: true },
    );

    await writeFile(
      join(root, 'nightless.yaml'),
      `version: 1
pipeline: slo-e2e
sources:
  app:
    git: git://127.0.0.1:${port}/app.git
    branch: main
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    steps: ['true']
network: { connect_timeout: 1s, stall_timeout: 2s }
reports:
  - amqp: { url: "${AMQP_URL}", exchange: ${exchange} }
slos:
  reliability: { indicator: reliability, objective: 99, window: 1h, fast_burn: [2m, 30s], slow_burn: [10m, 1m] }
`,
    );
    const token = `nl_${randomBytes(16).toString('hex')}`;
    const before = process.env.NIGHTLESS_TOKEN;
    process.env.NIGHTLESS_TOKEN = token;
    n = await startNightless({
      configPath: join(root, 'nightless.yaml'),
      dataDir: join(root, 'data'),
      host: '127.0.0.1',
      port: 0,
      slots: 1,
      logger: pino({ level: 'silent' }),
      watchConfig: false,
    }).finally(() => {
      if (before === undefined) delete process.env.NIGHTLESS_TOKEN;
      else process.env.NIGHTLESS_TOKEN = before;
    });
    // The start-up check saw the head through the daemon and built it; now the remote goes away.
    await expect
      .poll(async () => (await n!.store.read.listBuilds({ limit: 5 })).map((b) => b.state), {
        timeout: 15_000,
      })
      .toEqual(['passed']);
    stopDaemon(daemon);
    daemon = null;
    // Start-up warmed the mirror cache; without it the build must reach the (gone) remote.
    await rm(join(root, 'data', 'git'), { recursive: true, force: true, maxRetries: 5 });

    const res = await fetch(`${n.url}/api/jobs/build/trigger`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ force: true }),
    });
    expect(res.status).toBeLessThan(300);

    await expect
      .poll(() => got.find((g) => g.body.type === 'dev.nightless.slo.burning'), { timeout: 20_000 })
      .toBeDefined();
    const burning = got.find((g) => g.body.type === 'dev.nightless.slo.burning')!;
    expect(burning.key).toBe('slo-e2e.slo.burning');
    expect(burning.body.data.slo).toMatchObject({ name: 'reliability', good: 1, bad: 1 });

    const builds = (await (await fetch(`${n.url}/api/builds`)).json()) as {
      builds: Array<{ state: string; failureClass: string | null; reason: string }>;
    };
    expect(builds.builds[0]).toMatchObject({ state: 'error', failureClass: 'network' });
    const slos = (await (await fetch(`${n.url}/api/slos`)).json()) as {
      slos: Array<{ name: string; status: string; fastBurn: boolean }>;
    };
    expect(slos.slos[0]).toMatchObject({ name: 'reliability', fastBurn: true });
    expect(['burning', 'exhausted']).toContain(slos.slos[0]!.status);
  });
});
