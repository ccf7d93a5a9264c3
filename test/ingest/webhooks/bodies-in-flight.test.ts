import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { BodiesInFlight, inFlightLimits } from '../../../src/ingest/webhooks/bodies-in-flight.js';
import { git, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { fixture, hmacHex, startWebhookEnv, type WebhookEnv } from '../helpers.js';

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
    expect(inFlightLimits(25 * 1024 * 1024)).toEqual({
      perAddress: 64 * 1024 * 1024,
      total: 256 * 1024 * 1024,
    });
    expect(inFlightLimits(100 * 1024 * 1024).perAddress).toBe(200 * 1024 * 1024);
  });
});

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
const KiB = 1024;

let env: WebhookEnv | undefined;
const open: ClientRequest[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) r.destroy();
  await env?.close();
  env = undefined;
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
      'content-type': 'application/json',
      'x-github-event': 'push',
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
