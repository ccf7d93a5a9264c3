import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from './helpers/in-process.js';
import { runCli } from './helpers/spawn-cli.js';

/**
 * `nightless poll SOURCE` against a fake server speaking `POST /api/sources/:name/poll`:
 * `app` finds a version, `quiet` finds nothing and is not scheduled, `dataset` fails its check,
 * `bus` is an amqp source (409), anything else is unknown (404).
 */
process.env['TZ'] = 'UTC';

const TOKEN = 'poll-token';
const MIN = 60_000;

let server: Server;
let url: string;
const requests: Array<{ method: string; url: string; auth: string | null; body: string }> = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8').on('data', (d: string) => (body += d));
    req.on('end', () => {
      requests.push({
        method: req.method ?? '',
        url: req.url ?? '',
        auth: req.headers.authorization ?? null,
        body,
      });
      const send = (status: number, value: unknown): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method === 'POST' && req.url === '/api/sources/poll') {
        const at = Date.now() + 10 * MIN;
        const polls = [
          { source: 'app', ok: true, error: null, newVersions: 1, nextCheckAt: at },
          { source: 'dataset', ok: false, error: 'GET …: 503', newVersions: 0, nextCheckAt: at },
        ];
        return send(200, { polls });
      }
      const m = /^\/api\/sources\/([^/]+)\/poll$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m)
        return send(404, { error: { code: 'NL_NOT_FOUND', message: 'no route' } });
      if (req.headers.authorization !== `Bearer ${TOKEN}`)
        return send(401, {
          error: { code: 'NL_UNAUTHORIZED', message: 'missing or invalid API token' },
        });
      const name = decodeURIComponent(m[1] ?? '');
      const poll = { source: name, ok: true, error: null, newVersions: 0, nextCheckAt: null };
      switch (name) {
        case 'app':
          return send(200, {
            poll: { ...poll, newVersions: 1, nextCheckAt: Date.now() + 10 * MIN },
          });
        case 'quiet':
          return send(200, { poll });
        case 'dataset':
          return send(200, {
            poll: {
              ...poll,
              ok: false,
              error: 'GET https://data.example.org/latest.parquet: 503 Service Unavailable',
              nextCheckAt: Date.now() + 2 * MIN,
            },
          });
        case 'bus':
          return send(409, {
            error: {
              code: 'NL_CONFLICT',
              message: 'source "bus" cannot be polled (only git and http sources can)',
            },
          });
        default:
          return send(404, { error: { code: 'NL_NOT_FOUND', message: `no source "${name}"` } });
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

const env = () => ({ NIGHTLESS_SERVER: url, NIGHTLESS_TOKEN: TOKEN, NO_COLOR: undefined });
const run = (args: readonly string[], extra: Record<string, string | undefined> = {}) =>
  runInProcess(args, { env: { ...env(), ...extra } });

describe('nightless poll', () => {
  it('prints what the check found and when the next one is', async () => {
    const r = await run(['poll', 'app']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^app: ok, 1 new version; next check (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d \(in (9m5\ds|10m)\)\n$/,
    );
    expect(requests.at(-1)).toEqual({
      method: 'POST',
      url: '/api/sources/app/poll',
      auth: `Bearer ${TOKEN}`,
      body: '{}',
    });
  });

  it('says when nothing is new and no check is scheduled', async () => {
    const r = await run(['poll', 'quiet']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('quiet: ok, no new version; no scheduled check (fallback_poll: off)\n');
  });

  it('prints the error of a failed check and exits 1', async () => {
    const r = await run(['poll', 'dataset']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^dataset: check failed: GET https:\/\/data\.example\.org\/latest\.parquet: 503 Service Unavailable; next check (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d \(in (1m5\ds|2m)\)\n$/,
    );
    expect(r.stderr).toBe('');
  });

  it('--json prints the API answer (and still exits 1 on a failed check)', async () => {
    const ok = await run(['poll', 'app', '--json']);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({
      poll: { source: 'app', ok: true, newVersions: 1 },
    });
    const failed = await run(['poll', 'dataset', '--json']);
    expect(failed.code).toBe(1);
    expect(JSON.parse(failed.stdout)).toMatchObject({ poll: { source: 'dataset', ok: false } });
  });

  it('reports unknown and unpollable sources as the API does', async () => {
    const missing = await run(['poll', 'nope']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('nightless: 404 NL_NOT_FOUND: no source "nope"\n');
    const bus = await run(['poll', 'bus']);
    expect(bus.code).toBe(1);
    expect(bus.stderr).toBe(
      'nightless: 409 NL_CONFLICT: source "bus" cannot be polled (only git and http sources can)\n',
    );
  });

  it('sends the token and escapes the source name', async () => {
    const r = await run(['poll', 'a b/c'], { NIGHTLESS_TOKEN: undefined });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('nightless: 401 NL_UNAUTHORIZED: missing or invalid API token\n');
    expect(requests.at(-1)?.url).toBe('/api/sources/a%20b%2Fc/poll');
  });

  it('--all checks every source and exits 1 when one check failed', async () => {
    const r = await run(['poll', '--all']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(
      /^app: ok, 1 new version; next check .*\ndataset: check failed: GET …: 503; next check .*\n2 sources checked, 1 failed\n$/,
    );
    expect(requests.at(-1)).toMatchObject({ method: 'POST', url: '/api/sources/poll' });
    const json = await run(['poll', '--all', '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      polls: [{ source: 'app' }, { source: 'dataset' }],
    });
  });

  it('wants a source name or --all, not both or neither', async () => {
    for (const args of [['poll'], ['poll', 'app', '--all']]) {
      const r = await run(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toBe('nightless: give either a source name or --all\n');
    }
  });

  it('--help shows an example', async () => {
    const r = await run(['poll', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('$ nightless poll');
    expect(r.stdout).toContain('--json');
  });

  it('as a real process: exit code 1 for a failed check, 0 for a good one', async () => {
    const [failed, ok] = await Promise.all([
      runCli(['poll', 'dataset'], { env: env() }),
      runCli(['poll', 'app'], { env: env() }),
    ]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/^dataset: check failed: /);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^app: ok, 1 new version; next check /);
  }, 180_000);
});
