import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { BodiesInFlight, inFlightLimits } from '../../../src/ingest/webhooks/bodies-in-flight.js';
import { git, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { fixture, hmacHex, startWebhookEnv, type WebhookEnv } from '../helpers.js';

const SECRET = 's';
const PIPELINE = pipeline({
  sources: {
    app: {
      ...git('main', { url: 'https://github.com/Codertocat/Hello-World.git' }),
      webhookSecret: SECRET,
    },
  },
  jobs: { build: job({ inputs: ['app'] }) },
});

let env: WebhookEnv | undefined;
/** Requests the socket-level tests left open. */
const open: ClientRequest[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) r.destroy();
  await env?.close();
  env = undefined;
});

const headers = { 'content-type': 'application/json', 'x-github-event': 'push' };

describe('webhook limits and malformed bodies', () => {
  it('answers 413 with a JSON body past the default 25 MiB cap, and accepts just below it', async () => {
    env = await startWebhookEnv(PIPELINE);
    const big = JSON.stringify({
      ...fixture('github', 'push'),
      padding: 'x'.repeat(25 * 1024 * 1024),
    });
    const res = await env.app.inject({
      method: 'POST',
      url: '/hooks/github',
      headers,
      payload: big,
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toEqual({
      error: { code: 'NL_TOO_LARGE', message: expect.stringContaining('26214400') },
    });
    // 20 MiB is over the API's own 1 MiB limit, but webhooks have theirs.
    const ok = JSON.stringify({
      ...fixture('github', 'push'),
      padding: 'x'.repeat(20 * 1024 * 1024),
    });
    const accepted = await env.app.inject({
      method: 'POST',
      url: '/hooks/github',
      headers: { ...headers, 'x-hub-signature-256': `sha256=${hmacHex(SECRET, ok)}` },
      payload: ok,
    });
    expect(accepted.statusCode).toBe(202);
    expect(env.written).toHaveLength(1);
  });

  it('honours a configured cap', async () => {
    env = await startWebhookEnv(PIPELINE, { bodyLimit: 1024 });
    const res = await env.app.inject({
      method: 'POST',
      url: '/hooks/gitea',
      headers: { 'content-type': 'application/json', 'x-gitea-event': 'push' },
      payload: JSON.stringify(fixture('gitea', 'push')),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json<{ error: { code: string } }>().error.code).toBe('NL_TOO_LARGE');
  });

  it.each([
    ['truncated JSON', '{"ref": "refs/heads/main", '],
    ['not JSON at all', 'hello'],
    ['an empty body', ''],
  ])('answers 400 with a JSON body for %s signed right, storing nothing', async (_n, payload) => {
    env = await startWebhookEnv(PIPELINE);
    const signature = `sha256=${hmacHex(SECRET, payload)}`;
    const res = await env.app.inject({
      method: 'POST',
      url: '/hooks/github',
      headers: { ...headers, 'x-hub-signature-256': signature },
      payload,
    });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({ error: { code: 'NL_BAD_REQUEST', message: expect.any(String) } });
    expect(env.written).toEqual([]);
  });

  it('answers a signed delivery 400 when the event type header is missing, 415 for other content types', async () => {
    env = await startWebhookEnv(PIPELINE);
    const signature = `sha256=${hmacHex(SECRET, '{}')}`;
    const noType = await env.app.inject({
      method: 'POST',
      url: '/hooks/github',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signature },
      payload: '{}',
    });
    expect(noType.statusCode).toBe(400);
    const text = await env.app.inject({
      method: 'POST',
      url: '/hooks/github',
      headers: {
        'content-type': 'text/plain',
        'x-github-event': 'push',
        'x-hub-signature-256': signature,
      },
      payload: '{}',
    });
    expect(text.statusCode).toBe(415);
    expect(text.json<{ error: { code: string } }>().error.code).toBe('NL_UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers a signed push over real HTTP within a few milliseconds', async () => {
    env = await startWebhookEnv(PIPELINE);
    const url = await env.app.listen({ host: '127.0.0.1', port: 0 });
    const times: number[] = [];
    for (let i = 0; i < 100; i++) {
      const body = JSON.stringify({
        ...fixture('github', 'push'),
        after: i.toString(16).padStart(40, 'a'),
      });
      const t0 = performance.now();
      const res = await fetch(`${url}/hooks/github`, {
        method: 'POST',
        headers: {
          ...headers,
          'x-github-delivery': `lat-${i}`,
          'x-hub-signature-256': `sha256=${hmacHex(SECRET, body)}`,
        },
        body,
      });
      times.push(performance.now() - t0);
      expect(res.status).toBe(202);
    }
    times.sort((a, b) => a - b);
    const p50 = times[49]!;
    const p95 = times[94]!;
    console.info(
      `webhook latency over HTTP (100 signed pushes, inbox write included): p50 ${p50.toFixed(1)} ms, p95 ${p95.toFixed(1)} ms`,
    );
    // Generous bound for loaded CI machines; the figure above is the measurement.
    expect(p50).toBeLessThan(250);
    expect(await env.received('app')).toBe(100);
  });
});

const KiB = 1024;
const MiB = 1024 * KiB;

describe('BodiesInFlight', () => {
  it('holds each address to its share and everyone to the total, and gives bytes back', () => {
    const b = new BodiesInFlight({ perAddress: 100, total: 150 });
    expect(b.reserve('a', 60)).toBeNull();
    expect(b.reserve('a', 41)).toBe('address');
    expect(b.reserve('b', 80)).toBeNull();
    expect(b.reserve('c', 11)).toBe('total');
    b.release('a', 60);
    expect(b.held()).toBe(80);
    expect(b.reserve('c', 11)).toBeNull();
    expect([b.held('a'), b.held('b'), b.held('c')]).toEqual([0, 80, 11]);
  });

  it('defaults: two bodies of the limit per client (64 MiB at least), four clients in all', () => {
    expect(inFlightLimits(25 * MiB)).toEqual({ perAddress: 64 * MiB, total: 256 * MiB });
    expect(inFlightLimits(100 * MiB).perAddress).toBe(200 * MiB);
  });
});

interface Answer {
  status: number;
  retryAfter: string | undefined;
  body: { error?: { code: string; message: string } };
}

/** A POST from `from` (a loopback address of its own) that sends `first` bytes, then waits. */
function post(
  url: URL,
  from: string,
  opts: { length?: number; first: Buffer; headers?: Record<string, string> },
): { req: ClientRequest; answer: Promise<Answer> } {
  const req = request({
    host: url.hostname,
    port: url.port,
    path: '/hooks/github',
    method: 'POST',
    localAddress: from,
    timeout: 10_000,
    headers: {
      ...headers,
      ...(opts.length === undefined ? {} : { 'content-length': String(opts.length) }),
      ...opts.headers,
    },
  });
  open.push(req);
  const answer = new Promise<Answer>((resolve, reject) => {
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          retryAfter: res.headers['retry-after'],
          body: JSON.parse(text || '{}') as Answer['body'],
        }),
      );
    });
    req.on('timeout', () => reject(new Error(`no answer to ${from}`)));
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server may close the socket of a body it refused while the client still writes.
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
  });
  req.write(opts.first);
  return { req, answer };
}

/** A whole declared body of `bytes` from `from`, until the answer is not a 429 (bounded: 5 s). */
async function whole(url: URL, from: string, bytes: number): Promise<Answer> {
  let answer: Answer | undefined;
  for (let i = 0; i < 250; i++) {
    const p = post(url, from, { length: bytes, first: Buffer.alloc(bytes, 0x20) });
    p.req.end();
    answer = await p.answer;
    if (answer.status !== 429) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return answer!;
}

describe('webhook bodies in flight (real sockets, one loopback address per client)', () => {
  it('a client over its share gets 429 at once; other clients are answered; the total gives 503', async () => {
    const limits = { perAddress: 256 * KiB, total: 384 * KiB };
    env = await startWebhookEnv(PIPELINE, { inFlight: limits });
    const url = new URL(await env.app.listen({ host: '127.0.0.1', port: 0 }));
    // A slow upload that declared 200 KiB: all of it is held from its first byte.
    const slow = post(url, '127.0.0.2', { length: 200 * KiB, first: Buffer.alloc(KiB, 0x20) });
    await new Promise((r) => setTimeout(r, 100));
    // The same client declares 100 KiB more: refused before its body is read.
    const second = post(url, '127.0.0.2', { length: 100 * KiB, first: Buffer.alloc(0) });
    const refused = await second.answer;
    expect(refused.status).toBe(429);
    expect(refused.retryAfter).toBe('1');
    expect(refused.body.error).toEqual({
      code: 'NL_RATE_LIMITED',
      message: expect.stringContaining('from 127.0.0.2'),
    });
    // Another client's signed push goes through meanwhile.
    const push = JSON.stringify(fixture('github', 'push'));
    const signed = post(url, '127.0.0.3', {
      length: Buffer.byteLength(push),
      first: Buffer.from(push),
      headers: { 'x-hub-signature-256': `sha256=${hmacHex(SECRET, push)}` },
    });
    expect((await signed.answer).status).toBe(202);
    // A third client holding 150 KiB brings the total to 350 of 384: a fourth's 64 KiB is a 503.
    post(url, '127.0.0.4', { length: 150 * KiB, first: Buffer.alloc(KiB, 0x20) });
    await new Promise((r) => setTimeout(r, 100));
    const full = await post(url, '127.0.0.5', { length: 64 * KiB, first: Buffer.alloc(0) }).answer;
    expect(full.status).toBe(503);
    expect(full.body.error?.code).toBe('NL_UNAVAILABLE');
    // The slow client finishes (unsigned: 401); its bytes are given back, so it may send again.
    slow.req.end(Buffer.alloc(199 * KiB, 0x20));
    expect((await slow.answer).status).toBe(401);
    const again = post(url, '127.0.0.2', {
      length: 100 * KiB,
      first: Buffer.alloc(100 * KiB, 0x20),
    });
    again.req.end();
    expect((await again.answer).status).toBe(401);
  });

  it('a chunked body is counted as it arrives, and a client that hangs up gives its bytes back', async () => {
    const limits = { perAddress: 128 * KiB, total: 1024 * KiB };
    env = await startWebhookEnv(PIPELINE, { inFlight: limits });
    const url = new URL(await env.app.listen({ host: '127.0.0.1', port: 0 }));
    // No Content-Length: held as it arrives, refused once past 128 KiB.
    const chunked = post(url, '127.0.0.2', { first: Buffer.alloc(100 * KiB, 0x20) });
    await new Promise((r) => setTimeout(r, 100));
    chunked.req.write(Buffer.alloc(64 * KiB, 0x20));
    const refused = await chunked.answer;
    expect(refused.status).toBe(429);
    expect(refused.body.error?.code).toBe('NL_RATE_LIMITED');
    // Given back: a 120 KiB body from the same client is read whole (and is unsigned: 401).
    expect((await whole(url, '127.0.0.2', 120 * KiB)).status).toBe(401);
    // A declared upload abandoned half way is given back when the connection closes.
    const gone = post(url, '127.0.0.2', { length: 100 * KiB, first: Buffer.alloc(KiB, 0x20) });
    await new Promise((r) => setTimeout(r, 100));
    gone.req.destroy();
    expect((await whole(url, '127.0.0.2', 120 * KiB)).status).toBe(401);
  });
});
