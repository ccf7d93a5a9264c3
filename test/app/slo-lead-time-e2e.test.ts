import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ChannelModel } from 'amqplib';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { seededRepo } from '../../src/testing/git.js';
import { runCli } from '../cli/helpers/spawn-cli.js';

/**
 * `lead_time` end to end, all real: `nightless serve` over a local git repository, a two-job
 * chain (`a` makes an output, `b` consumes it), RabbitMQ for the alert. A slow `b` keeps the
 * version's trace open past the threshold: the SLO burns, `dev.nightless.slo.burning` reaches
 * the bus, and the API, `/metrics` and `nightless slo --json` say so; a fast chain is good.
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
    `\n*** SKIPPING the lead_time end-to-end test: RabbitMQ is not reachable at ${AMQP_URL} ***\n`,
  );
}

interface SloView {
  name: string;
  indicator: string;
  status: string;
  fastBurn: boolean;
  good: number;
  bad: number;
}

describe.skipIf(!RABBIT)('lead_time end to end (git, real server, RabbitMQ)', () => {
  let root = '';
  let n: Nightless | null = null;
  let amqp: ChannelModel | null = null;
  afterEach(async () => {
    await n?.stop();
    n = null;
    await amqp?.close().catch(() => undefined);
    amqp = null;
    if (root !== '') await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  async function serve(bStep: string, threshold: string, exchange: string): Promise<Nightless> {
    root = await mkdtemp(join(tmpdir(), 'nightless-lead-e2e-'));
    const repo = seededRepo(root);
    await writeFile(
      join(root, 'nightless.yaml'),
      `version: 1
pipeline: lead-e2e
sources:
  app:
    git: ${repo.bare}
    branch: main
    fallback_poll: off
jobs:
  a:
    inputs: [app]
    steps: ['mkdir -p dist && git rev-parse HEAD > dist/out.txt']
    outputs: { dist: dist/out.txt }
  b:
    inputs: [a.dist]
    steps: ['${bStep}']
reports:
  - amqp: { url: "${AMQP_URL}", exchange: ${exchange} }
slos:
  lead: { indicator: lead_time, objective: 99, threshold: ${threshold}, window: 1h, fast_burn: [2m, 30s], slow_burn: [10m, 1m] }
`,
    );
    return startNightless({
      configPath: join(root, 'nightless.yaml'),
      dataDir: join(root, 'data'),
      host: '127.0.0.1',
      port: 0,
      slots: 2,
      logger: pino({ level: 'silent' }),
      watchConfig: false,
    });
  }

  async function slos(url: string): Promise<SloView[]> {
    return ((await (await fetch(`${url}/api/slos`)).json()) as { slos: SloView[] }).slos;
  }

  it('a downstream build slower than the threshold burns lead_time; the alert reaches the bus', async () => {
    const exchange = `nightless-lead-test-${randomBytes(4).toString('hex')}`;
    amqp = await connect(AMQP_URL, { timeout: 5_000 });
    const ch = await amqp.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: false, autoDelete: true });
    const { queue } = await ch.assertQueue('', { exclusive: true });
    await ch.bindQueue(queue, exchange, 'lead-e2e.slo.#');
    const got: Array<{ key: string; body: { type: string; data: { slo: SloView } } }> = [];
    await ch.consume(
      queue,
      (m) => {
        if (m) got.push({ key: m.fields.routingKey, body: JSON.parse(m.content.toString()) });
      },
      { noAck: true },
    );

    // The start-up check finds the head; a builds it, b (on a's output) takes 20 s > 1 s.
    n = await serve('sleep 20', '1s', exchange);
    await expect
      .poll(() => got.find((g) => g.body.type === 'dev.nightless.slo.burning'), {
        timeout: 30_000,
      })
      .toBeDefined();
    const burning = got.find((g) => g.body.type === 'dev.nightless.slo.burning')!;
    expect(burning.key).toBe('lead-e2e.slo.burning');
    expect(burning.body.data.slo).toMatchObject({ name: 'lead', indicator: 'lead_time', bad: 1 });
    // It burned while b was still running: the version was not waited for.
    const b = (await n.store.read.listBuilds({ limit: 10 })).find((x) => x.job === 'b');
    expect(b?.state).toBe('running');

    const [lead] = await slos(n.url);
    expect(lead).toMatchObject({ name: 'lead', indicator: 'lead_time', good: 0, bad: 1 });
    expect(lead!.fastBurn).toBe(true);
    expect(['burning', 'exhausted']).toContain(lead!.status);

    const metrics = await (await fetch(`${n.url}/metrics`)).text();
    expect(metrics).toMatch(/nightless_slo_burning\{slo="lead"\} 1/);
    expect(metrics).toMatch(/nightless_slo_attainment\{slo="lead"\} 0/);

    const cli = await runCli(['slo', '--json'], { env: { NIGHTLESS_SERVER: n.url } });
    expect(cli.code).toBe(0);
    const json = JSON.parse(cli.stdout) as { slos: SloView[] } | SloView[];
    const rows = Array.isArray(json) ? json : json.slos;
    expect(rows[0]).toMatchObject({ name: 'lead', indicator: 'lead_time', bad: 1 });
  });

  it('a fast chain is good: ok, nothing burns', async () => {
    n = await serve('true', '1m', `nightless-lead-test-${randomBytes(4).toString('hex')}`);
    // Done once b has ended and a's output was decided.
    await expect
      .poll(async () => (await slos(n!.url))[0], { timeout: 30_000 })
      .toMatchObject({ name: 'lead', good: 1, bad: 0, status: 'ok', fastBurn: false });
    const builds = await n.store.read.listBuilds({ limit: 10 });
    expect(builds.map((x) => [x.job, x.state]).sort()).toEqual([
      ['a', 'passed'],
      ['b', 'passed'],
    ]);
    const cli = await runCli(['slo'], { env: { NIGHTLESS_SERVER: n.url } });
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(/lead\s+lead_time\s+99% \/ 1h\s+100%/);
  });
});
