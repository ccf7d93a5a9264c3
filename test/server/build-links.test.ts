import { afterEach, describe, expect, it } from 'vitest';
import { AUTH, readEvents, sha, startTestEnv, type TestEnv } from './helpers.js';

/** Behind a proxy, under a path, written with a trailing slash: links must still be clean. */
const PUBLIC = 'https://ci.example.com/nightless/';
const page = (id: number) => `https://ci.example.com/nightless/builds/${id}`;
const api = (id: number) => `https://ci.example.com/nightless/api/builds/${id}`;

let env: TestEnv;
afterEach(async () => {
  await env.close();
});

interface Linked {
  id: number;
  url: string;
  apiUrl: string;
}

function expectLinks(build: Linked): void {
  expect(build.url).toBe(page(build.id));
  expect(build.apiUrl).toBe(api(build.id));
}

/** `a` builds `first`; its output feeds `b`: builds #1 (a) and #2 (b). */
async function pushFirst(): Promise<void> {
  await env.setOutput('a', 'artifact one\n');
  await env.push(sha('first'));
}

describe('build links under --public-url', () => {
  it('every build the API answers with links to its page and its JSON', async () => {
    env = await startTestEnv({ publicUrl: PUBLIC });
    await pushFirst();

    const list = (await env.app.inject({ url: '/api/builds' })).json<{ builds: Linked[] }>();
    expect(list.builds.map((b) => b.id)).toEqual([2, 1]);
    list.builds.forEach(expectLinks);

    const one = (await env.app.inject({ url: '/api/builds/1' })).json<{ build: Linked }>();
    expect(one.build).toMatchObject({ id: 1, url: page(1), apiUrl: api(1) });
    // The API link answers with the same build.
    const viaLink = await env.app.inject({
      url: new URL(one.build.apiUrl).pathname.replace(/^\/nightless/, ''),
    });
    expect(viaLink.json<{ build: Linked }>().build.id).toBe(1);

    const jobs = (await env.app.inject({ url: '/api/jobs' })).json<{
      jobs: Array<{ latest: Linked; lastFinished: Linked }>;
    }>();
    for (const job of jobs.jobs) {
      expectLinks(job.latest);
      expectLinks(job.lastFinished);
    }

    const trace = (await env.app.inject({ url: `/api/trace/app/${sha('first')}` })).json<{
      nodes: Array<{ build: Linked; children: Array<{ build: Linked }> }>;
    }>();
    expect(trace.nodes[0]?.build).toMatchObject({ id: 1, url: page(1) });
    expect(trace.nodes[0]?.children[0]?.build).toMatchObject({ id: 2, url: page(2) });
  });

  it('trigger, rebuild and cancel answer with the linked build; Location is its API link', async () => {
    env = await startTestEnv({ publicUrl: PUBLIC });
    await pushFirst();

    const trigger = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { force: true },
    });
    expect(trigger.statusCode).toBe(202);
    const queued = trigger.json<{ build: Linked }>().build;
    expectLinks(queued);
    expect(trigger.headers.location).toBe(queued.apiUrl);
    await env.engine.settled();

    env.executor.hold('a');
    const rebuild = await env.app.inject({
      method: 'POST',
      url: '/api/builds/1/rebuild',
      headers: AUTH,
    });
    expect(rebuild.statusCode).toBe(202);
    const again = rebuild.json<{ build: Linked }>().build;
    expectLinks(again);
    expect(rebuild.headers.location).toBe(api(again.id));

    const cancel = await env.app.inject({
      method: 'POST',
      url: `/api/builds/${again.id}/cancel`,
      headers: AUTH,
    });
    expect(cancel.statusCode).toBe(200);
    expect(cancel.json<{ build: Linked }>().build).toMatchObject({
      id: again.id,
      url: page(again.id),
      apiUrl: api(again.id),
    });
    env.executor.release('a');
    await env.engine.settled();
  });

  it('reads the base per response, so a server that learns its address late links right', async () => {
    let base = '';
    env = await startTestEnv({ publicUrl: () => base });
    await pushFirst();
    base = 'http://127.0.0.1:41234';
    const one = (await env.app.inject({ url: '/api/builds/1' })).json<{ build: Linked }>();
    expect(one.build.url).toBe('http://127.0.0.1:41234/builds/1');
    expect(one.build.apiUrl).toBe('http://127.0.0.1:41234/api/builds/1');
  });

  it('the OpenAPI document declares url and apiUrl on every Build', async () => {
    env = await startTestEnv({ publicUrl: PUBLIC });
    const doc = (await env.app.inject({ url: '/api/openapi.json' })).json<{
      components: { schemas: Record<string, { required?: string[] }> };
    }>();
    expect(doc.components.schemas['Build']?.required).toEqual(
      expect.arrayContaining(['url', 'apiUrl']),
    );
    expect(doc.components.schemas['BuildDetail']?.required).toEqual(
      expect.arrayContaining(['url', 'apiUrl']),
    );
  });
});

describe('GET /api/events', () => {
  it('each event’s build carries its links, live and when replayed after Last-Event-ID', async () => {
    env = await startTestEnv({ publicUrl: PUBLIC, sseHeartbeatMs: 100 });
    const address = await env.app.listen({ host: '127.0.0.1', port: 0 });
    await env.setOutput('a', 'one');
    const res = await fetch(`${address}/api/events`, { signal: AbortSignal.timeout(10_000) });
    const done = (e: { event: string; data: unknown }) =>
      e.event === 'build.finished' && (e.data as { build: Linked }).build.id === 2;
    const reading = readEvents(res, (evs) => evs.some(done));
    await env.push(sha('first'));
    const live = (await reading).filter((e) => e.event.startsWith('build.'));
    expect(live.length).toBeGreaterThanOrEqual(6);
    for (const e of live) expectLinks((e.data as { build: Linked }).build);

    const replay = await fetch(`${address}/api/events`, {
      headers: { 'last-event-id': '0' },
      signal: AbortSignal.timeout(10_000),
    });
    const replayed = (await readEvents(replay, (evs) => evs.some(done))).filter((e) =>
      e.event.startsWith('build.'),
    );
    expect(replayed.map((e) => e.id)).toEqual(live.map((e) => e.id));
    for (const e of replayed) expectLinks((e.data as { build: Linked }).build);
  });
});
