import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createServer as createHttpsServer,
  globalAgent,
  type Server as HttpsServer,
} from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/cli/client.js';
import { ApiError, ConnectionError } from '../../src/cli/errors.js';

let server: Server | HttpsServer | null = null;

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<string> {
  server = createServer(handler);
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
  server = null;
});

const client = (baseUrl: string, token: string | null = null, timeoutMs = 2000): ApiClient =>
  new ApiClient({ baseUrl, token, timeoutMs });

describe('ApiClient', () => {
  it('sends the token and the query, skipping undefined values', async () => {
    let seen: { url?: string; auth?: string } = {};
    const url = await serve((req, res) => {
      seen = { url: req.url ?? '', auth: req.headers.authorization ?? '' };
      res.end('{"ok":true}');
    });
    const body = await client(url, 't0k').getJson<{ ok: boolean }>('/api/builds', {
      job: 'a b',
      state: undefined,
      limit: 5,
    });
    expect(body).toEqual({ ok: true });
    expect(seen).toEqual({ url: '/api/builds?job=a+b&limit=5', auth: 'Bearer t0k' });
  });

  it('maps error bodies to ApiError with status, code and message', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          error: { code: 'NL_NOT_FOUND', message: 'no build 42', details: { id: 42 } },
        }),
      );
    });
    const err = await client(url)
      .getJson('/api/builds/42')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).message).toBe('404 NL_NOT_FOUND: no build 42');
    expect((err as ApiError).details).toEqual({ id: 42 });
  });

  it('names an error response that is not the API shape by its status', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(502);
      res.end('<html>Bad Gateway</html>');
    });
    await expect(client(url).getJson('/api/jobs')).rejects.toThrow(
      '502 HTTP_502: <html>Bad Gateway</html>',
    );
  });

  it('says when the answer is not JSON', async () => {
    const url = await serve((_req, res) => res.end('<html>hello</html>'));
    await expect(client(url).getJson('/api/jobs')).rejects.toThrow(/did not answer with JSON/);
  });

  it('connection refused: suggests starting the server', async () => {
    const url = await serve(() => undefined);
    await new Promise((resolve) => server?.close(resolve));
    server = null;
    const err = await client(url)
      .getJson('/api/jobs')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as Error).message).toBe(
      `cannot reach the nightless server at ${url} (is \`nightless serve\` running?)`,
    );
  });

  it('times out a silent server', async () => {
    const url = await serve(() => undefined);
    const started = Date.now();
    await expect(client(url, null, 300).getJson('/api/jobs')).rejects.toThrow(
      `no answer from the nightless server at ${url} within 300ms (use --timeout to wait longer)`,
    );
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it('streams server-sent events and closes the connection when the caller stops', async () => {
    let closed = false;
    const url = await serve((req, res) => {
      expect(req.headers.accept).toBe('text/event-stream');
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('event: a\ndata: 1\n\nevent: b\ndata: 2\n\n');
      req.on('close', () => (closed = true));
    });
    const events = await client(url).stream('/api/events', {});
    const seen: string[] = [];
    for await (const m of events) {
      seen.push(m.event);
      if (m.event === 'b') break;
    }
    expect(seen).toEqual(['a', 'b']);
    await expect.poll(() => closed).toBe(true);
  });

  it('gives up on a stream that goes silent past its idle timeout', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': hello\n\n');
    });
    const events = await client(url).stream('/api/events', {}, { idleTimeoutMs: 200 });
    const drain = async (): Promise<void> => {
      for await (const _m of events) {
        // nothing arrives
      }
    };
    await expect(drain()).rejects.toThrow(/went silent/);
  });

  it('talks to an https:// server (TLS loaded on demand)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nightless-tls-'));
    const [key, cert] = [join(dir, 'key.pem'), join(dir, 'cert.pem')];
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '1',
        '-keyout',
        key,
        '-out',
        cert,
      ].concat(['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1']),
      { stdio: 'ignore', timeout: 30_000, env: { ...process.env, RANDFILE: join(dir, 'rnd') } },
    );
    server = createHttpsServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) =>
      res.end(JSON.stringify({ path: req.url, auth: req.headers.authorization })),
    );
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    const trusted = globalAgent.options.ca;
    globalAgent.options.ca = readFileSync(cert);
    try {
      const url = `https://127.0.0.1:${port}`;
      const body = await client(url, 't0k').getJson<{ path: string }>('/api/jobs');
      expect(body).toEqual({ path: '/api/jobs', auth: 'Bearer t0k' });
    } finally {
      globalAgent.options.ca = trusted;
    }
  });
});
