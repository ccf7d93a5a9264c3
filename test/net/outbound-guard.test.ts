import diagnostics from 'node:diagnostics_channel';
import { get as httpGet } from 'node:http';
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHttp } from '../../src/ingest/poll/http-check.js';
import {
  pinnedLookup,
  RefusedTargetError,
  vetHost,
  type OutboundPolicy,
} from '../../src/net/outbound-guard.js';
import { HttpPoster } from '../../src/reporters/http/http-post.js';
import { Receiver } from '../reporters/helpers.js';

const DENY: OutboundPolicy = { allowPrivate: false, allowHint: 'allow_private: true on the test' };
const ALLOW: OutboundPolicy = { allowPrivate: true, allowHint: 'allow_private: true on the test' };

/** Every client socket Node creates while `fn` runs (net's diagnostics channel): a refused hop makes none. */
async function socketsDuring<T>(fn: () => Promise<T>): Promise<{ result: T; sockets: Socket[] }> {
  const sockets: Socket[] = [];
  const onSocket = (m: unknown) => sockets.push((m as { socket: Socket }).socket);
  diagnostics.subscribe('net.client.socket', onSocket);
  try {
    return { result: await fn(), sockets };
  } finally {
    diagnostics.unsubscribe('net.client.socket', onSocket);
  }
}

describe('the outbound guard over real sockets', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.reverse()) await c();
    cleanups.length = 0;
  });

  async function receiver(answer?: ConstructorParameters<typeof Receiver>[0]) {
    const r = new Receiver(answer);
    const url = await r.start();
    cleanups.push(() => r.stop());
    return { r, url, port: new URL(url).port };
  }

  function poster(): HttpPoster {
    const p = new HttpPoster();
    cleanups.push(() => p.close());
    return p;
  }

  const post = (p: HttpPoster, url: string, policy: OutboundPolicy, followRedirects = false) =>
    p.post(url, '{}', {
      headers: {},
      connectTimeoutMs: 2_000,
      timeoutMs: 5_000,
      followRedirects,
      policy,
    });

  it('refuses a receiver on 127.0.0.1 by default in every spelling, at once and for good, without a socket', async () => {
    const { r, port } = await receiver();
    const p = poster();
    for (const host of [
      '127.0.0.1',
      '127.1',
      '0x7f000001',
      '2130706433',
      '[::ffff:127.0.0.1]',
      '[::1]',
    ]) {
      const started = Date.now();
      const { result, sockets } = await socketsDuring(() =>
        post(p, `http://${host}:${port}/hook`, DENY),
      );
      expect(result).toEqual({
        ok: false,
        retryable: false,
        error: expect.stringMatching(
          /^refused: (127\.0\.0\.1|::1) is loopback; allow with allow_private: true on the test$/,
        ) as unknown,
      });
      expect(sockets).toHaveLength(0);
      // At once: far below the 2 s connect timeout a connection attempt would wait for.
      expect(Date.now() - started).toBeLessThan(1_000);
    }
    expect(r.requests).toHaveLength(0);
  });

  it('the same spellings reach the receiver with the opt-in (they are loopback indeed)', async () => {
    const { r, port } = await receiver();
    const p = poster();
    for (const host of ['127.0.0.1', '127.1', '0x7f000001', '2130706433'])
      expect(await post(p, `http://${host}:${port}/hook`, ALLOW)).toEqual({ ok: true });
    expect(r.requests).toHaveLength(4);
  });

  it('refuses a name that resolves to loopback (localhost), naming what it resolved to', async () => {
    const { port } = await receiver();
    const outcome = await post(poster(), `http://localhost:${port}/`, DENY);
    expect(outcome).toMatchObject({ ok: false, retryable: false });
    expect((outcome as { error: string }).error).toMatch(
      /^refused: localhost resolves to (127\.0\.0\.1|::1), which is loopback; allow with allow_private: true on the test$/,
    );
  });

  it('with the opt-in, a name reaches the receiver through the pinned lookup (no second DNS query)', async () => {
    const { r, port } = await receiver();
    const asked: string[] = [];
    const resolver = (host: string) => {
      asked.push(host);
      return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    };
    const addresses = await vetHost('receiver.invalid', ALLOW, 1_000, resolver);
    // `.invalid` never resolves in DNS: the request can only have used the vetted address.
    const res = await new Promise<number>((resolve, reject) =>
      httpGet(
        `http://receiver.invalid:${port}/pinned`,
        { lookup: pinnedLookup(addresses), agent: false },
        (m) => {
          m.resume();
          resolve(m.statusCode ?? 0);
        },
      ).on('error', reject),
    );
    expect(res).toBe(204);
    expect(asked).toEqual(['receiver.invalid']);
    expect(r.requests.map((q) => [q.url, q.headers.host])).toEqual([
      ['/pinned', `receiver.invalid:${port}`],
    ]);
  });

  it('the pinned lookup answers only with vetted addresses, by family, one or all', () => {
    const lookup = pinnedLookup([
      { address: '127.0.0.1', family: 4 },
      { address: '::1', family: 6 },
    ]);
    const answers: unknown[] = [];
    lookup('x.invalid', { all: true }, (err, a) => answers.push([err, a]));
    lookup('x.invalid', { family: 6 }, (err, a, f) => answers.push([err, a, f]));
    lookup('x.invalid', { family: 4, all: true }, (err, a) => answers.push([err, a]));
    expect(answers).toEqual([
      [
        null,
        [
          { address: '127.0.0.1', family: 4 },
          { address: '::1', family: 6 },
        ],
      ],
      [null, '::1', 6],
      [null, [{ address: '127.0.0.1', family: 4 }]],
    ]);
    const v4only = pinnedLookup([{ address: '127.0.0.1', family: 4 }]);
    v4only('x.invalid', { family: 6 }, (err) => answers.push(err?.code));
    expect(answers.at(-1)).toBe('ENOTFOUND');
  });

  it.each([
    [
      'http://169.254.169.254/latest/meta-data/',
      '169.254.169.254 is link-local (cloud metadata lives here)',
    ],
    [
      'http://0xa9fea9fe/latest/meta-data/',
      '169.254.169.254 is link-local (cloud metadata lives here)',
    ],
    [
      'http://[::ffff:169.254.169.254]/',
      '169.254.169.254 is link-local (cloud metadata lives here)',
    ],
    ['http://[fd00:ec2::254]/latest/meta-data/', 'fd00:ec2::254 is cloud metadata'],
    ['http://[fe80::1]/', 'fe80::1 is link-local (cloud metadata lives here)'],
    ['http://0.0.0.0:1/', '0.0.0.0 is unspecified'],
  ])(
    'a redirect from an allowed receiver to %s is refused at the hop, before any connection to it',
    async (to, why) => {
      const { r, url } = await receiver((_q, res) => res.writeHead(307, { location: to }).end());
      const p = poster();
      const { result, sockets } = await socketsDuring(() => post(p, `${url}/hook`, ALLOW, true));
      expect(result).toEqual({
        ok: false,
        retryable: false,
        error: `refused: ${why}; nightless never connects there (redirected to ${new URL(to).href})`,
      });
      expect(r.requests).toHaveLength(1);
      // One socket: the one to the receiver on 127.0.0.1. None was made for the redirect target.
      expect(sockets).toHaveLength(1);
      expect(sockets[0]!.remoteAddress).toBe('127.0.0.1');
    },
  );

  it('an http source check is guarded the same way, its redirects included', async () => {
    const { r: target, url: targetUrl } = await receiver((_q, res) =>
      res.writeHead(200, { etag: '"v1"' }).end('x'),
    );
    const check = (url: string, policy: OutboundPolicy) =>
      checkHttp(url, { etag: null, headers: {}, timeoutMs: 2_000, maxBytes: 1024, policy });

    await expect(check(`${targetUrl}/repodata.xml`, DENY)).rejects.toThrow(
      `GET ${targetUrl}/repodata.xml failed: refused: 127.0.0.1 is loopback; allow with allow_private: true on the test`,
    );
    expect(target.requests).toHaveLength(0);
    await expect(check(`${targetUrl}/repodata.xml`, ALLOW)).resolves.toEqual({
      version: '"v1"',
      etag: '"v1"',
    });

    const { url: hop } = await receiver((q, res) =>
      res
        .writeHead(302, {
          location: q.url === '/to-target' ? `${targetUrl}/moved` : 'http://169.254.169.254/',
        })
        .end(),
    );
    await expect(check(`${hop}/to-target`, ALLOW)).resolves.toEqual({
      version: '"v1"',
      etag: '"v1"',
    });
    const { result, sockets } = await socketsDuring(() =>
      check(`${hop}/to-metadata`, ALLOW).catch((e: unknown) => e),
    );
    expect(String(result)).toContain(
      `GET ${hop}/to-metadata failed: refused: 169.254.169.254 is link-local (cloud metadata lives here); nightless never connects there (redirected to http://169.254.169.254/)`,
    );
    expect((result as Error).cause).toBeInstanceOf(RefusedTargetError);
    // One socket, to the receiver that redirected; none for the metadata address.
    expect(sockets).toHaveLength(1);
    expect(sockets[0]!.remoteAddress).toBe('127.0.0.1');
  });

  it('checks every address a name resolves to: one refused address refuses the name', async () => {
    const resolver = () =>
      Promise.resolve([
        { address: '93.184.215.14', family: 4 },
        { address: '10.0.0.7', family: 4 },
      ]);
    await expect(vetHost('mixed.example', DENY, 1_000, resolver)).rejects.toThrow(
      'refused: mixed.example resolves to 10.0.0.7, which is private; allow with allow_private: true on the test',
    );
    await expect(vetHost('mixed.example', ALLOW, 1_000, resolver)).resolves.toHaveLength(2);
    const metadata = () => Promise.resolve([{ address: '169.254.169.254', family: 4 }]);
    await expect(vetHost('meta.example', ALLOW, 1_000, metadata)).rejects.toBeInstanceOf(
      RefusedTargetError,
    );
  });

  it('bounds name resolution by the timeout (a resolver that never answers)', async () => {
    const never = () => new Promise<never>(() => undefined);
    const started = Date.now();
    await expect(vetHost('slow.example', ALLOW, 100, never)).rejects.toThrow(
      'timeout after 100 ms resolving slow.example',
    );
    expect(Date.now() - started).toBeLessThan(500);
  });
});
