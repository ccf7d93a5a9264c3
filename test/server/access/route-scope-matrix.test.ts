import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWithToken, writeOneJobPipeline } from '../../../src/testing/token-server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Nightless } from '../../../src/app/start-nightless.js';
import { SCOPES, type RouteAccess, type Scope } from '../../../src/core/access.js';
import { ROUTE_ACCESS } from '../../../src/server/auth/route-access.js';

/**
 * Every route × every scope, against the whole server (`startNightless`, real HTTP) with reads
 * protected (`readAuth`): 401 without a token, 403 with a token that lacks the route's scope,
 * anything but 401/403 with one that has it (or with `admin`).
 */

let root: string;
let nl: Nightless;
const tokens = new Map<Scope, string>();
const BOOTSTRAP = 'matrix-bootstrap-token';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-access-'));
  await writeOneJobPipeline(root, '\n    webhook_secret: app-secret');
  nl = await startWithToken(root, BOOTSTRAP, { readAuth: true });
  for (const scope of SCOPES) {
    const res = await call('POST', '/api/tokens', BOOTSTRAP, {
      name: `t-${scope}`,
      scopes: [scope],
    });
    expect(res.status).toBe(201);
    tokens.set(scope, (res.json as { token: string }).token);
  }
});

afterAll(async () => {
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

/** A request and its JSON body; an event stream is closed at its headers (it never ends). */
async function call(
  method: string,
  path: string,
  token: string | null,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const headers: Record<string, string> = {};
  if (token !== null) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${nl.url}${path}`, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
    await res.body?.cancel();
    return { status: res.status, json: null };
  }
  const text = await res.text();
  return { status: res.status, json: text.startsWith('{') ? JSON.parse(text) : null };
}

/** Placeholders for path parameters: auth runs before the handler looks anything up. */
function concrete(url: string): string {
  return url
    .replace(':id', '1')
    .replace(':name', 'nothing')
    .replace(':job', 'build')
    .replace(':source', 'app')
    .replace(':version', 'abc');
}

const routes = Object.entries(ROUTE_ACCESS).map(([key, access]) => {
  const [method, url] = key.split(' ') as [string, string];
  return { key, method, url, access };
});

function expected(
  access: RouteAccess,
  holder: Scope | null,
): 'refused-401' | 'refused-403' | 'allowed' {
  if (access === 'public' || access === 'signature') return 'allowed';
  if (holder === null) return 'refused-401';
  if (access === 'token' || holder === 'admin' || holder === access) return 'allowed';
  return 'refused-403';
}

describe('every route declares its access and the server enforces it', () => {
  it('registers exactly the routes of the access table, and the OpenAPI document says each one', async () => {
    for (const r of routes)
      expect(nl.server.hasRoute({ method: r.method, url: r.url }), r.key).toBe(true);
    const openapi = (await call('GET', '/api/openapi.json', null)).json as {
      paths: Record<string, Record<string, { 'x-nightless-access'?: string }>>;
    };
    const documented = Object.entries(openapi.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => [
        `${method.toUpperCase()} ${path}`,
        op['x-nightless-access'],
      ]),
    );
    expect(documented.length).toBeGreaterThan(20);
    for (const [op, access] of documented) expect(access, op).toBeDefined();
  });

  it('docs/security.md lists every route', async () => {
    const doc = await readFile(new URL('../../../docs/security.md', import.meta.url), 'utf8');
    const table = doc.slice(doc.indexOf('### Every route and what it needs'));
    for (const r of routes) expect(table, r.key).toContain(`${r.url}`);
  });

  it('opens nothing that holds data or changes state', () => {
    const open = routes.filter((r) => r.access === 'public').map((r) => r.key);
    // `GET /` and `GET /*` serve the dashboard's static files, which hold no data.
    expect(open.sort()).toEqual([
      'GET /',
      'GET /*',
      'GET /api/openapi.json',
      'GET /healthz',
      'GET /readyz',
    ]);
    const signed = routes.filter((r) => r.access === 'signature').map((r) => r.url);
    for (const url of signed) expect(url).toMatch(/^\/hooks\/(github|gitlab|gitea|generic)$/);
    for (const r of routes.filter((x) => x.url.startsWith('/api/tokens') || x.url === '/api/audit'))
      expect(r.access, r.key).toBe('admin');
  });

  for (const r of routes) {
    for (const holder of [null, ...SCOPES] as const) {
      const want = expected(r.access, holder);
      it(`${r.key} (${r.access}) with ${holder ?? 'no'} token → ${want}`, async () => {
        const token = holder === null ? null : tokens.get(holder)!;
        const body = r.method === 'GET' ? undefined : {};
        const res = await call(r.method, concrete(r.url), token, body);
        if (want === 'refused-401') expect(res.status).toBe(401);
        else if (want === 'refused-403') expect(res.status).toBe(403);
        else if (r.access === 'signature') {
          // The route's own signature check answers; a token neither helps nor hurts.
          expect(res.status).toBe((await call(r.method, concrete(r.url), null, body)).status);
        } else expect([401, 403, 429]).not.toContain(res.status);
      });
    }
  }
});
