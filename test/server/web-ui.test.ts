import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { handleError } from '../../src/server/errors.js';
import { webUiRoutes } from '../../src/server/web-ui.js';

/** The dashboard's static routes: files, deep links that survive a reload, and what they never shadow. */
let root: string;
const app = Fastify();

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-webui-'));
  await mkdir(join(root, 'dist', 'assets'), { recursive: true });
  await writeFile(join(root, 'dist', 'index.html'), '<!doctype html><title>nightless</title>');
  await writeFile(join(root, 'dist', 'assets', 'index-abc.js'), 'console.log(1)');
  await writeFile(join(root, 'secret.txt'), 'not served');
  // The server's one error handler turns what the routes throw into JSON bodies.
  app.setErrorHandler(handleError);
  webUiRoutes(app, join(root, 'dist'));
  app.get('/api/jobs', () => ({ jobs: [] }));
  await app.ready();
});

afterAll(async () => {
  await app.close();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

describe('the dashboard routes', () => {
  it.each([
    '/',
    '/jobs/build',
    '/builds/12',
    '/trace?version=abc',
    '/sources',
    '/deliveries',
    '/decisions',
    '/slos',
  ])('answers %s with the page (a reload of a deep link works)', async (url) => {
    const res = await app.inject({ url });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.body).toContain('<title>nightless</title>');
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('serves hashed assets as immutable, with their type', async () => {
    const res = await app.inject({ url: '/assets/index-abc.js' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/javascript');
    expect(res.headers['cache-control']).toContain('immutable');
  });

  it('never shadows the API, hooks or metrics: unknown paths there stay JSON 404s', async () => {
    expect((await app.inject({ url: '/api/jobs' })).json()).toEqual({ jobs: [] });
    for (const url of ['/api/nope', '/hooks/nope', '/metrics-x', '/assets/missing.js']) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(404);
      expect(res.json<{ error: { code: string } }>().error.code, url).toBe('NL_NOT_FOUND');
    }
  });

  it('serves nothing outside web/dist', async () => {
    for (const url of [
      '/assets/../../secret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%2f..%2fsecret.txt',
    ]) {
      const res = await app.inject({ url });
      expect(res.body, url).not.toContain('not served');
      expect(res.statusCode, url).toBe(404);
    }
  });

  it('says how to build the dashboard when web/dist is missing', async () => {
    const bare = Fastify();
    webUiRoutes(bare, join(root, 'nothing-here'));
    const res = await bare.inject({ url: '/builds/1' });
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('npm run build');
    await bare.close();
  });
});
