import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { AmqpBus } from '../../src/bus/amqp/amqp-bus.js';
import type { BusMessages } from '../../src/bus/port.js';
import { AMQP_URL, rabbitUnavailable, skipOrFail } from './rabbit.js';
import { TcpRelay } from './tcp-relay.js';

const why = await rabbitUnavailable();
if (why !== null) skipOrFail('the AMQP bus tests', why);

const broker = new URL(AMQP_URL);
const silent = pino({ level: 'silent' });
/** Fast reconnects: the tests wait for them. */
const backoff = { initialMs: 50, maxMs: 200 };

async function eventually(what: string, done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A pino logger whose lines the test reads. */
function capturingLogger() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, sink) };
}

describe.skipIf(why !== null)('amqp bus between replicas (real RabbitMQ)', () => {
  const opened: AmqpBus[] = [];
  const relays: TcpRelay[] = [];
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((b) => b.close()));
    await Promise.all(relays.splice(0).map((r) => r.down()));
  });
  const start = (scope: string, url = AMQP_URL, logger = silent) => {
    const bus = AmqpBus.start({ url, scope, name: `test-${opened.length}`, logger, backoff });
    opened.push(bus);
    return bus;
  };
  const logsOf = (bus: AmqpBus) => {
    const got: number[] = [];
    bus.subscribe('log', (m: BusMessages['log']) => got.push(m.bytes));
    return got;
  };

  it('delivers to every replica of the scope, its own messages once, other scopes none', async () => {
    const scope = `t-${randomUUID()}`;
    const a = start(scope);
    const b = start(scope);
    const c = start(scope);
    const stranger = start(`t-${randomUUID()}`);
    await Promise.all([a, b, c, stranger].map((x) => x.ready(5_000)));
    const [ga, gb, gc, gs] = [a, b, c, stranger].map(logsOf);
    a.publish('log', { buildId: 1, bytes: 10 });
    b.publish('log', { buildId: 1, bytes: 20 });
    await eventually('both messages everywhere', () =>
      [ga, gb, gc].every((g) => g !== undefined && g.length >= 2),
    );
    await pause(200);
    for (const g of [ga, gb, gc]) expect([...(g ?? [])].sort()).toEqual([10, 20]);
    // Own messages arrive synchronously, before the broker could hand them back.
    expect(ga?.[0]).toBe(10);
    expect(gs).toEqual([]);
  });

  it('works locally while the broker is unreachable, logs where without the password, and connects when it comes', async () => {
    const relay = await TcpRelay.to({ host: broker.hostname, port: Number(broker.port || 5672) });
    relays.push(relay);
    const scope = `t-${randomUUID()}`;
    const { lines, logger } = capturingLogger();
    const url = `amqp://guest:guest@127.0.0.1:${relay.port}`;
    const far = start(scope, url, logger);
    const near = start(scope);
    await near.ready(5_000);
    const local = logsOf(far);
    const remote = logsOf(near);
    far.publish('log', { buildId: 2, bytes: 1 });
    expect(far.connected).toBe(false);
    expect(local).toEqual([1]);
    await eventually('the outage logged', () =>
      lines.some((l) => l.includes('bus to other replicas down')),
    );
    const line = lines.find((l) => l.includes('bus to other replicas down')) ?? '';
    expect(line).toContain(`127.0.0.1:${relay.port}`);
    expect(lines.join('')).not.toContain('guest:guest');
    await relay.up();
    await far.ready(5_000);
    far.publish('log', { buildId: 2, bytes: 2 });
    await eventually('the message after the outage', () => remote.includes(2));
    expect(remote).toEqual([2]); // what was published while down is not replayed
    expect(lines.some((l) => l.includes('bus to other replicas back'))).toBe(true);
  });

  it('reconnects after the connection is cut and delivers again, in order', async () => {
    const relay = await TcpRelay.to({ host: broker.hostname, port: Number(broker.port || 5672) });
    relays.push(relay);
    await relay.up();
    const scope = `t-${randomUUID()}`;
    const far = start(scope, `amqp://guest:guest@127.0.0.1:${relay.port}`);
    const near = start(scope);
    await Promise.all([far.ready(5_000), near.ready(5_000)]);
    const got = logsOf(far);
    near.publish('log', { buildId: 3, bytes: 1 });
    await eventually('before the cut', () => got.length === 1);
    await relay.down();
    await eventually('the cut noticed', () => !far.connected);
    await relay.up();
    await far.ready(5_000);
    for (let bytes = 2; bytes <= 30; bytes++) near.publish('log', { buildId: 3, bytes });
    await eventually('after the cut', () => got.length >= 30);
    expect(got).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  });

  it('refuses a scope that is not one routing-key word', () => {
    expect(() => start('a.b')).toThrow(/letters, digits/);
  });
});
