import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { CloudEvent } from 'cloudevents';
import { afterEach, describe, expect, it } from 'vitest';
import { apiPorts } from '../../src/app/api-ports.js';
import { readLog } from '../../src/executor/log-reader.js';
import { HttpPoster } from '../../src/reporters/http/http-post.js';
import { deliveryRoutes } from '../../src/server/routes/deliveries.js';
import { buildServer } from '../../src/server/build-server.js';
import { AUTH, TOKEN_SHA256 } from '../server/helpers.js';
import { Blackhole } from './blackhole.js';
import {
  quiet,
  Receiver,
  SHA,
  startReporting,
  waitFor,
  webhook,
  type Received,
  type Reporting,
} from './helpers.js';

/** The receiver side of docs/events.md "Verifying the signature". */
function verify(secret: string, r: Received): boolean {
  const header = String(r.headers['x-nightless-signature-256'] ?? '');
  const expected = `sha256=${createHmac('sha256', secret).update(r.body).digest('hex')}`;
  return (
    header.length === expected.length && timingSafeEqual(Buffer.from(header), Buffer.from(expected))
  );
}

const types = (rs: readonly Received[]) => rs.map((r) => String(r.headers['x-nightless-event']));
const LIFECYCLE = [
  'dev.nightless.build.queued',
  'dev.nightless.build.started',
  'dev.nightless.build.finished',
];

describe('webhook reports (local HTTP receivers)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function receiver(answer?: ConstructorParameters<typeof Receiver>[0]) {
    const r = new Receiver(answer);
    const url = await r.start();
    cleanups.push(() => r.stop());
    return { r, url };
  }

  async function reporting(...args: Parameters<typeof startReporting>): Promise<Reporting> {
    const rep = await startReporting(...args);
    cleanups.push(() => rep.stop());
    return rep;
  }

  it('POSTs every lifecycle event in order as a signed structured CloudEvent', async () => {
    const { r, url } = await receiver();
    const { h } = await reporting([webhook(`${url}/hooks/ci`)]);
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('three events', () => r.requests.length === 3);

    expect(types(r.requests)).toEqual(LIFECYCLE);
    for (const req of r.requests) {
      expect(req.method).toBe('POST');
      expect(req.url).toBe('/hooks/ci');
      expect(req.headers['content-type']).toMatch(/^application\/cloudevents\+json/);
      expect(verify('qe-secret', req)).toBe(true);
      expect(verify('wrong-secret', req)).toBe(false);
      expect(new CloudEvent(JSON.parse(req.body) as never, true).validate()).toBe(true);
    }
    const ids = r.requests.map((q) => q.headers['x-nightless-delivery']);
    expect(new Set(ids).size).toBe(3);
    const finished = JSON.parse(r.requests[2]!.body) as {
      id: string;
      data: { state: string; inputs: Array<{ version: string }>; coverage: { lines: number } };
    };
    expect(finished.id).toMatch(/^shop:\d+$/);
    expect(finished.data.state).toBe('passed');
    expect(finished.data.inputs[0]!.version).toBe(SHA(1));
    expect(finished.data.coverage.lines).toBe(81);
  });

  it('never signs with an empty secret: nothing is sent, the delivery is dead with the reason', async () => {
    // `check` refuses `secret: ""`; a definition built in code must still not sign with it.
    const { r, url } = await receiver();
    const { h, store } = await reporting([webhook(url, { secret: '' })]);
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('three dead deliveries', async () => {
      const dead = await store.deliveries.listDeliveries({ state: 'dead', limit: 10 });
      return dead.length === 3;
    });
    const dead = await store.deliveries.listDeliveries({ state: 'dead', limit: 10 });
    expect(dead[0]?.lastError).toMatch(/signing secret is empty; refusing to sign/);
    expect(dead[0]?.attempts).toBe(1);
    expect(r.requests).toEqual([]);
  });

  it('retries 5xx answers with growing backoff, same delivery id, and keeps the order', async () => {
    let failures = 2;
    const { r, url } = await receiver((_req, res) => {
      if (failures-- > 0) res.writeHead(503).end('busy');
      else res.writeHead(200).end();
    });
    const { h, store } = await reporting([webhook(url, { maxAttempts: 5 })]);
    await h.push('app', SHA(1));
    await h.settle();
    // The receiver records a request before it answers; the delivery is marked after the answer.
    await waitFor('five requests, all delivered', async () => {
      const all = await store.deliveries.listDeliveries({ limit: 10 });
      return r.requests.length === 5 && all.every((d) => d.state === 'delivered');
    });

    const first = r.requests.slice(0, 3);
    expect(new Set(first.map((q) => q.headers['x-nightless-delivery'])).size).toBe(1);
    expect(first.map((q) => q.headers['x-nightless-attempt'])).toEqual(['1', '2', '3']);
    const gap1 = first[1]!.at - first[0]!.at;
    const gap2 = first[2]!.at - first[1]!.at;
    expect(gap1).toBeGreaterThanOrEqual(15); // 40 ms base, equal jitter: 20..40
    expect(gap2).toBeGreaterThanOrEqual(35); // 80 ms base: 40..80
    expect(types(r.requests.slice(2))).toEqual(LIFECYCLE);
    // The receiver records a request before answering it; the outcome is stored after the answer.
    await waitFor('every delivery stored as delivered', async () =>
      (await store.deliveries.listDeliveries({ limit: 10 })).every((d) => d.state === 'delivered'),
    );
    const all = await store.deliveries.listDeliveries({ limit: 10 });
    expect(all.find((d) => d.type === 'queued')?.attempts).toBe(3);
  });

  it('marks a delivery dead after max_attempts, shows it in the API, and retries it by hand', async () => {
    let healthy = false;
    const { r, url } = await receiver((_req, res) => res.writeHead(healthy ? 200 : 500).end());
    const rep = await reporting([webhook(url, { maxAttempts: 2 })]);
    const { h, store, dispatcher } = rep;
    const app = await buildServer({
      ...apiPorts(h.engine, h.store, h.bus),
      logger: quiet,
      dataDir: h.dir,
      artifacts: { openRead: () => process.stdin },
      readLog,
      tokenSha256: TOKEN_SHA256,
      readAuth: false,
      publicUrl: '',
      extraRoutes: [
        deliveryRoutes({ deliveries: store.deliveries, reads: store.read, dispatcher }),
      ],
    });
    cleanups.push(() => app.close());

    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('three dead deliveries', async () => {
      const dead = await store.deliveries.listDeliveries({ state: 'dead', limit: 10 });
      return dead.length === 3;
    });
    expect(r.requests).toHaveLength(6);

    const list = await app.inject({ method: 'GET', url: '/api/deliveries?state=dead' });
    expect(list.statusCode).toBe(200);
    const body = list.json<{
      deliveries: Array<{ id: number; type: string; attempts: number; lastError: string }>;
      targets: Array<{ kind: string; behind: number }>;
    }>();
    expect(body.deliveries.map((d) => d.type).sort()).toEqual(['finished', 'queued', 'started']);
    expect(body.deliveries[0]!.attempts).toBe(2);
    expect(body.deliveries[0]!.lastError).toMatch(/HTTP 500 .*gave up after 2 attempts/);
    expect(body.targets).toEqual([expect.objectContaining({ kind: 'webhook', behind: 0 })]);

    const finished = body.deliveries.find((d) => d.type === 'finished')!;
    const anonymous = await app.inject({
      method: 'POST',
      url: `/api/deliveries/${finished.id}/retry`,
    });
    expect(anonymous.statusCode).toBe(401);

    healthy = true;
    const retry = await app.inject({
      method: 'POST',
      url: `/api/deliveries/${finished.id}/retry`,
      headers: AUTH,
    });
    expect(retry.statusCode).toBe(200);
    await waitFor('the retried delivery', async () => {
      return (await store.deliveries.getDelivery(finished.id))?.state === 'delivered';
    });
    expect(types(r.requests.slice(6))).toEqual(['dev.nightless.build.finished']);
    const again = await app.inject({
      method: 'POST',
      url: `/api/deliveries/${finished.id}/retry`,
      headers: AUTH,
    });
    expect(again.statusCode).toBe(409);
  });

  it('a receiver that accepts and never answers does not delay a healthy one', async () => {
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    cleanups.push(async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    });
    const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`;
    const { r, url } = await receiver();
    const { h } = await reporting([webhook(silentUrl), webhook(url)]);

    await h.push('app', SHA(1));
    await h.settle();
    const finishedAt = Date.now();
    await waitFor('the healthy receiver', () => r.requests.length === 3, 1_000);
    expect(types(r.requests)).toEqual(LIFECYCLE);
    expect(Date.now() - finishedAt).toBeLessThan(1_000);
    expect(sockets.length).toBeGreaterThanOrEqual(1); // the silent one is still waiting
  });

  it('does not follow redirects unless asked', async () => {
    const { r: other, url: otherUrl } = await receiver();
    const { r, url } = await receiver((_req, res) =>
      res.writeHead(307, { location: `${otherUrl}/moved` }).end(),
    );
    const { h, store } = await reporting([webhook(url)]);
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('three dead deliveries', async () => {
      return (await store.deliveries.listDeliveries({ state: 'dead', limit: 10 })).length === 3;
    });
    expect(other.requests).toHaveLength(0);
    expect(r.requests).toHaveLength(3); // not retried: a redirect won't change
    const [d] = await store.deliveries.listDeliveries({ state: 'dead', limit: 1 });
    expect(d?.lastError).toBe(
      `HTTP 307 redirect to ${otherUrl}/moved not followed (set follow_redirects: true to follow)`,
    );
  });

  it('refuses a loopback receiver without allow_private: dead at the first attempt, never contacted', async () => {
    const { r, url } = await receiver();
    const { h, store } = await reporting([webhook(url, { allowPrivate: false })]);
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('three dead deliveries', async () => {
      return (await store.deliveries.listDeliveries({ state: 'dead', limit: 10 })).length === 3;
    });
    expect(r.requests).toHaveLength(0);
    const dead = await store.deliveries.listDeliveries({ state: 'dead', limit: 10 });
    for (const d of dead) {
      expect(d.attempts).toBe(1);
      expect(d.lastError).toBe(
        'refused: 127.0.0.1 is loopback; allow with allow_private: true on this webhook report',
      );
    }
  });

  it('refuses a redirect to the cloud metadata address even with allow_private', async () => {
    const { r } = await receiver();
    const { url } = await receiver((_req, res) =>
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end(),
    );
    const { h, store } = await reporting([webhook(url, { followRedirects: true })]);
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('three dead deliveries', async () => {
      return (await store.deliveries.listDeliveries({ state: 'dead', limit: 10 })).length === 3;
    });
    const [d] = await store.deliveries.listDeliveries({ state: 'dead', limit: 1 });
    expect(d?.attempts).toBe(1);
    expect(d?.lastError).toBe(
      'refused: 169.254.169.254 is link-local (cloud metadata lives here); nightless never connects there (redirected to http://169.254.169.254/latest/meta-data/)',
    );
    expect(r.requests).toHaveLength(0);
  });

  it('follows redirects when follow_redirects is on', async () => {
    const { r: other, url: otherUrl } = await receiver();
    const { url } = await receiver((_req, res) =>
      res.writeHead(308, { location: `${otherUrl}/moved` }).end(),
    );
    const { h } = await reporting([webhook(url, { followRedirects: true })]);
    await h.push('app', SHA(1));
    await h.settle();
    await waitFor('three events at the new place', () => other.requests.length === 3);
    expect(other.requests.map((q) => q.url)).toEqual(['/moved', '/moved', '/moved']);
  });

  it('bounds the connect by connect_timeout with a clear message', async () => {
    const hole = await Blackhole.start();
    cleanups.push(() => hole.stop());
    const poster = new HttpPoster();
    const started = Date.now();
    const outcome = await poster.post(`http://127.0.0.1:${hole.port}/`, '{}', {
      headers: {},
      connectTimeoutMs: 300,
      timeoutMs: 5_000,
      followRedirects: false,
      policy: { allowPrivate: true, allowHint: 'the test' },
    });
    poster.close();
    expect(Date.now() - started).toBeLessThan(800);
    expect(outcome).toEqual({
      ok: false,
      retryable: true,
      error: `connect timeout after 300ms to 127.0.0.1:${hole.port}`,
    });
  });
});
