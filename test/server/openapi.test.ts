import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnv, type TestEnv } from './helpers.js';

let env: TestEnv;
beforeAll(async () => {
  env = await startTestEnv();
});
afterAll(async () => {
  await env.close();
});

describe('GET /api/openapi.json', () => {
  it('is an OpenAPI 3.1 document listing every route with its schemas', async () => {
    const res = await env.app.inject({ url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body) as {
      openapi: string;
      paths: Record<
        string,
        Record<
          string,
          {
            parameters?: Array<{ name: string; in: string }>;
            responses: Record<string, unknown>;
            security?: unknown;
          }
        >
      >;
      components: { schemas: Record<string, unknown>; securitySchemes: Record<string, unknown> };
      servers: Array<{ url: string }>;
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: 'http://ci.example.test' }]);
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes.sort()).toEqual(
      [
        'GET /healthz',
        'GET /readyz',
        'GET /api/openapi.json',
        'GET /api/sources',
        'GET /api/jobs',
        'POST /api/jobs/{job}/trigger',
        'GET /api/builds',
        'GET /api/builds/{id}',
        'POST /api/builds/{id}/cancel',
        'POST /api/builds/{id}/rebuild',
        'GET /api/builds/{id}/log',
        'GET /api/builds/{id}/artifacts/{name}',
        'GET /api/events',
        'GET /api/why',
        'GET /api/events/{id}',
        'GET /api/trace/{source}/{version}',
      ].sort(),
    );
    const list = doc.paths['/api/builds']!.get!;
    expect(list.parameters!.map((p) => p.name).sort()).toEqual([
      'before',
      'job',
      'limit',
      'source',
      'state',
      'version',
    ]);
    expect(Object.keys(list.responses)).toEqual(expect.arrayContaining(['200', '400']));
    expect(doc.paths['/api/jobs/{job}/trigger']!.post!.security).toEqual([{ bearer: [] }]);
    expect(doc.components.securitySchemes).toHaveProperty('bearer');
    for (const name of [
      'Build',
      'BuildDetail',
      'DecisionRecord',
      'EventRecord',
      'Ancestry',
      'TraceNode',
      'ErrorBody',
      'LogLine',
      'Source',
      'Job',
    ]) {
      expect(doc.components.schemas, name).toHaveProperty(name);
    }
    // The recursive trace tree is expressed through a reference, not an endless inline schema.
    expect(JSON.stringify(doc.components.schemas.TraceNode)).toContain(
      '#/components/schemas/TraceNode',
    );
    // Every $ref resolves.
    for (const ref of res.body.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)) {
      expect(doc.components.schemas, ref[1]).toHaveProperty(ref[1]!);
    }
  });
});
