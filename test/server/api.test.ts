import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LogLine } from '../../src/executor/log-reader.js';
import { AUTH, GIT_PASSWORD, ids, pluck, sha, startTestEnv, type TestEnv } from './helpers.js';

let env: TestEnv;
beforeEach(async () => {
  env = await startTestEnv();
});
afterEach(async () => {
  await env.close();
});

/** `a` built `first`, its output fed `b`: builds #1 (a) and #2 (b). */
async function pushFirst(): Promise<string> {
  const digest = await env.setOutput('a', 'artifact one\n');
  await env.push(sha('first'));
  return digest;
}

describe('health', () => {
  it('answers /healthz and /readyz', async () => {
    expect((await env.app.inject({ url: '/healthz' })).json()).toEqual({ ok: true });
    const ready = await env.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ ready: true });
  });

  it('answers 404 in the error format for unknown routes', async () => {
    const res = await env.app.inject({ method: 'POST', url: '/api/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'NL_NOT_FOUND', message: 'no route POST /api/nothing-here' },
    });
  });
});

describe('sources', () => {
  it('lists pipeline sources with credentials stripped and heads', async () => {
    await pushFirst();
    const res = await env.app.inject({ url: '/api/sources' });
    expect(res.statusCode).toBe(200);
    expect(res.body).not.toContain(GIT_PASSWORD);
    const { sources } = res.json();
    expect(pluck(sources, 'name')).toEqual(['app', 'a.out']);
    const [app, out] = sources;
    expect(app).toMatchObject({
      name: 'app',
      kind: 'git',
      url: 'https://git.example.com/team/app.git',
      branches: ['main'],
      fallbackPollMs: 600_000,
      heads: [{ ref: 'main', version: sha('first'), origin: 'webhook' }],
      eventsReceived: 1,
      pollFailures: 0,
      missedEvents: 0,
    });
    expect(out).toMatchObject({
      name: 'a.out',
      kind: 'job-output',
      url: null,
      fallbackPollMs: null,
    });
    expect(out).not.toHaveProperty('branches');
    expect(out.heads).toHaveLength(1);
  });
});

describe('jobs', () => {
  it('lists jobs in topological order with their latest builds', async () => {
    const empty = (await env.app.inject({ url: '/api/jobs' })).json();
    expect(empty.jobs).toEqual([
      {
        name: 'a',
        inputs: ['app'],
        steps: 1,
        outputs: ['out'],
        latest: null,
        lastFinished: null,
        runsOn: [],
        waiting: null,
      },
      {
        name: 'b',
        inputs: ['a.out'],
        steps: 2,
        outputs: [],
        latest: null,
        lastFinished: null,
        runsOn: [],
        waiting: null,
      },
    ]);
    await pushFirst();
    const { jobs } = (await env.app.inject({ url: '/api/jobs' })).json();
    expect(jobs[0].latest).toMatchObject({ id: 1, job: 'a', state: 'passed' });
    expect(jobs[0].lastFinished).toMatchObject({ id: 1 });
    expect(jobs[1].latest).toMatchObject({ id: 2, job: 'b', state: 'passed' });
  });
});

describe('trigger', () => {
  it('requires the token', async () => {
    const none = await env.app.inject({ method: 'POST', url: '/api/jobs/a/trigger', payload: {} });
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.json().error.code).toBe('NL_UNAUTHORIZED');
    const wrong = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: { authorization: 'Bearer not-the-token' },
      payload: {},
    });
    expect(wrong.statusCode).toBe(401);
    const basic = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: { authorization: 'Basic dXNlcjpwYXNz' },
    });
    expect(basic.statusCode).toBe(401);
  });

  it('builds once, then reports same-fingerprint, then builds again when forced', async () => {
    await pushFirst();
    const again = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: {},
    });
    expect(again.statusCode).toBe(202);
    const body = again.json();
    expect(body.build).toBeNull();
    expect(body.decisions).toEqual([
      expect.objectContaining({
        job: 'a',
        rule: 'same-fingerprint',
        buildId: null,
        origin: 'manual',
      }),
    ]);

    const forced = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { force: true },
    });
    expect(forced.statusCode).toBe(202);
    const f = forced.json();
    // The free slot may have claimed it already.
    expect(['queued', 'running']).toContain(f.build.state);
    expect(f.build).toMatchObject({
      job: 'a',
      forced: true,
      // Triggered with the bootstrap token: the build records the token's name.
      cause: { kind: 'manual', forced: true, by: 'bootstrap' },
    });
    expect(f.decisions[0]).toMatchObject({ rule: 'forced', buildId: f.build.id });
    expect(forced.headers.location).toBe(`http://ci.example.test/api/builds/${f.build.id}`);
    await env.engine.settled();
    const done = (await env.app.inject({ url: `/api/builds/${f.build.id}` })).json();
    expect(done.build.state).toBe('passed');
  });

  it('accepts no body, an empty JSON body, and rejects unknown fields and bad JSON', async () => {
    await pushFirst();
    const noBody = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
    });
    expect(noBody.statusCode).toBe(202);
    const emptyJson = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: '',
    });
    expect(emptyJson.statusCode).toBe(202);
    const typo = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { forced: true },
    });
    expect(typo.statusCode).toBe(400);
    expect(typo.json().error.code).toBe('NL_BAD_REQUEST');
    const wrongType = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { force: 'yes' },
    });
    expect(wrongType.statusCode).toBe(400);
    expect(wrongType.json().error.details[0]).toMatchObject({ in: 'body', path: '/force' });
    const badJson = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: '{"force":',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.code).toBe('NL_BAD_REQUEST');
    expect(badJson.body).not.toMatch(/\bat .*\.js:\d+/); // no stack trace
  });

  it('answers 404 for an unknown job and 413 for a body over the limit', async () => {
    const res = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/nope/trigger',
      headers: AUTH,
      payload: {},
    });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({
      error: { code: 'NL_NOT_FOUND', message: 'no job "nope" in the pipeline' },
    });
    const big = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: { ...AUTH, 'content-type': 'application/json' },
      payload: JSON.stringify({ force: true, pad: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe('NL_TOO_LARGE');
  });
});

describe('builds', () => {
  it('lists newest first, filters and pages with before', async () => {
    await pushFirst();
    await env.setOutput('a', 'artifact two\n');
    await env.push(sha('second'));
    // #1 a, #2 b, #3 a, #4 b
    const all = (await env.app.inject({ url: '/api/builds' })).json();
    expect(ids(all.builds)).toEqual([4, 3, 2, 1]);
    expect(all.next).toBeNull();

    const page1 = (await env.app.inject({ url: '/api/builds?limit=3' })).json();
    expect(ids(page1.builds)).toEqual([4, 3, 2]);
    expect(page1.next).toBe(2);
    const page2 = (
      await env.app.inject({ url: `/api/builds?limit=3&before=${page1.next}` })
    ).json();
    expect(ids(page2.builds)).toEqual([1]);
    expect(page2.next).toBeNull();
    const exact = (await env.app.inject({ url: '/api/builds?limit=2&before=3' })).json();
    expect(exact).toMatchObject({ next: null });

    const jobA = (await env.app.inject({ url: '/api/builds?job=a' })).json();
    expect(ids(jobA.builds)).toEqual([3, 1]);
    const byVersion = (
      await env.app.inject({ url: `/api/builds?source=app&version=${sha('first').slice(0, 7)}` })
    ).json();
    expect(ids(byVersion.builds)).toEqual([1]);
    const passed = (await env.app.inject({ url: '/api/builds?state=passed&job=b' })).json();
    expect(ids(passed.builds)).toEqual([4, 2]);
    const queued = (await env.app.inject({ url: '/api/builds?state=queued' })).json();
    expect(queued.builds).toEqual([]);
  });

  it('answers 400 with a JSON body for bad query parameters', async () => {
    for (const q of [
      'limit=0',
      'limit=501',
      'limit=ten',
      'state=green',
      'before=-1',
      'unknown=1',
    ]) {
      const res = await env.app.inject({ url: `/api/builds?${q}` });
      expect(res.statusCode, q).toBe(400);
      expect(res.headers['content-type']).toMatch(/application\/json/);
      const body = res.json();
      expect(body.error.code).toBe('NL_BAD_REQUEST');
      expect(body.error.message).toMatch(/^invalid querystring/);
      expect(Array.isArray(body.error.details)).toBe(true);
    }
  });

  it('shows one build in detail, 404 for an unknown one, 400 for a bad id', async () => {
    const digest = await pushFirst();
    const res = await env.app.inject({ url: '/api/builds/1' });
    expect(res.statusCode).toBe(200);
    const { build } = res.json();
    expect(build).toMatchObject({
      id: 1,
      job: 'a',
      state: 'passed',
      inputs: [{ source: 'app', version: sha('first'), ref: 'main', origin: 'webhook' }],
      outputs: [{ name: 'out', digest, files: [{ path: 'out.txt', digest, size: 13 }] }],
      worker: 'local',
      warnings: [],
    });
    expect(build.logBytes).toBeGreaterThan(0);
    expect((await env.app.inject({ url: '/api/builds/99' })).statusCode).toBe(404);
    const bad = await env.app.inject({ url: '/api/builds/abc' });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.message).toMatch(/^invalid params/);
  });

  it('cancels a queued build and a running one; 404 for none; needs the token', async () => {
    await pushFirst();
    env.executor.hold('a');
    const t1 = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { force: true },
    });
    const running = t1.json().build.id as number;
    await waitFor(async () => (await env.store.read.getBuild(running))?.state === 'running');
    const t2 = await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { force: true },
    });
    const queued = t2.json().build.id as number;

    expect(
      (await env.app.inject({ method: 'POST', url: `/api/builds/${queued}/cancel` })).statusCode,
    ).toBe(401);
    const c1 = await env.app.inject({
      method: 'POST',
      url: `/api/builds/${queued}/cancel`,
      headers: AUTH,
    });
    expect(c1.statusCode).toBe(200);
    expect(c1.json().build).toMatchObject({
      id: queued,
      state: 'cancelled',
      reason: 'cancelled by api',
    });

    const c2 = await env.app.inject({
      method: 'POST',
      url: `/api/builds/${running}/cancel`,
      headers: AUTH,
    });
    expect(c2.statusCode).toBe(200);
    await env.engine.settled();
    const after = (await env.app.inject({ url: `/api/builds/${running}` })).json();
    expect(after.build).toMatchObject({ state: 'cancelled', reason: 'cancelled by api' });

    const none = await env.app.inject({
      method: 'POST',
      url: '/api/builds/999/cancel',
      headers: AUTH,
    });
    expect(none.statusCode).toBe(404);
  });
});

describe('logs', () => {
  it('returns lines with offsets and done', async () => {
    await pushFirst();
    const res = await env.app.inject({ url: '/api/builds/1/log' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect((body.lines as LogLine[]).map((l) => [l.stream, l.text])).toEqual([
      ['system', 'build #1 of a'],
      ['stdout', 'hello from a'],
      ['stderr', 'a warning on stderr'],
      ['system', 'passed'],
    ]);
    expect(typeof body.lines[0].ts).toBe('number');
    expect(body.nextOffset).toBe(body.size);
    expect(body.done).toBe(true);

    // About `limit` bytes of whole lines: the first line alone is longer than 30 bytes.
    const part = (await env.app.inject({ url: '/api/builds/1/log?limit=30' })).json();
    expect(part.lines.length).toBeGreaterThan(0);
    expect(part.lines.length).toBeLessThan(4);
    expect(part.done).toBe(false);
    const rest = (
      await env.app.inject({ url: `/api/builds/1/log?offset=${part.nextOffset}` })
    ).json();
    expect([...part.lines, ...rest.lines]).toEqual(body.lines);
    expect(rest.done).toBe(true);
  });

  it('answers 404 for an unknown build and 400 for a bad offset', async () => {
    expect((await env.app.inject({ url: '/api/builds/7/log' })).statusCode).toBe(404);
    await pushFirst();
    expect((await env.app.inject({ url: '/api/builds/1/log?offset=-5' })).statusCode).toBe(400);
  });

  it('shows an empty, unfinished log for a queued build', async () => {
    env.executor.hold('a');
    await env.setOutput('a', 'x');
    await env.engine.ingest({
      kind: 'source',
      source: 'app',
      version: sha('held'),
      ref: 'main',
      origin: 'webhook',
      deliveryId: null,
      changedPaths: null,
      producedBy: null,
      receivedAt: Date.now(),
    });
    await env.engine.decided();
    const body = (await env.app.inject({ url: '/api/builds/1/log' })).json();
    expect(body.done).toBe(false);
    env.executor.release('a');
    await env.engine.settled();
  });
});

describe('artifacts', () => {
  it('downloads a single-file output with digest and disposition', async () => {
    const digest = await pushFirst();
    const res = await env.app.inject({ url: '/api/builds/1/artifacts/out' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toBe('artifact one\n');
    expect(res.headers['content-type']).toBe('application/octet-stream');
    expect(res.headers['content-disposition']).toBe(
      `attachment; filename="out.txt"; filename*=UTF-8''out.txt`,
    );
    expect(res.headers['x-nightless-digest']).toBe(digest);
    expect(res.headers['content-length']).toBe('13');
    const byPath = await env.app.inject({ url: '/api/builds/1/artifacts/out?path=out.txt' });
    expect(byPath.body).toBe('artifact one\n');
  });

  it('lists the files of a multi-file output and serves one by path', async () => {
    const one = await env.setOutput('a', 'first file');
    const two = await env.setOutput('a', 'second file');
    env.executor.outputs.set('a', [
      {
        name: 'out',
        digest: 'f'.repeat(64),
        files: [
          { path: 'bin/one', digest: one, size: 10 },
          { path: 'doc/two.txt', digest: two, size: 11 },
        ],
      },
    ]);
    await env.push(sha('multi'));
    const list = await env.app.inject({ url: '/api/builds/1/artifacts/out' });
    expect(list.statusCode).toBe(200);
    expect(list.json()).toEqual({
      files: [
        { path: 'bin/one', digest: one, size: 10 },
        { path: 'doc/two.txt', digest: two, size: 11 },
      ],
    });
    const file = await env.app.inject({ url: '/api/builds/1/artifacts/out?path=doc/two.txt' });
    expect(file.body).toBe('second file');
    expect(file.headers['content-disposition']).toContain('filename="two.txt"');
    expect(
      (await env.app.inject({ url: '/api/builds/1/artifacts/out?path=nope' })).statusCode,
    ).toBe(404);
  });

  it('answers 404 for unknown builds, outputs and missing content', async () => {
    const digest = await pushFirst();
    expect((await env.app.inject({ url: '/api/builds/9/artifacts/out' })).statusCode).toBe(404);
    const noOutput = await env.app.inject({ url: '/api/builds/1/artifacts/dist' });
    expect(noOutput.statusCode).toBe(404);
    expect(noOutput.json().error.message).toBe('build #1 has no output "dist"');
    await env.content.remove(digest);
    const gone = await env.app.inject({ url: '/api/builds/1/artifacts/out' });
    expect(gone.statusCode).toBe(404);
    expect(gone.json().error.message).toMatch(/no longer stored/);
  });
});

describe('why', () => {
  it('lists decisions about a job newest first, filtered by version', async () => {
    await pushFirst();
    await env.app.inject({ method: 'POST', url: '/api/jobs/a/trigger', headers: AUTH });
    const res = await env.app.inject({ url: '/api/why?job=a' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.job).toBe('a');
    // The job's own decisions and the source-level one about its input (job: null).
    expect(pluck(body.decisions, 'rule')).toEqual(['same-fingerprint', 'built', 'new-version']);
    const byVersion = (
      await env.app.inject({ url: `/api/why?job=a&version=${sha('first').slice(0, 8)}` })
    ).json();
    expect(byVersion.decisions).toEqual([
      expect.objectContaining({ rule: 'built', buildId: 1, source: 'app' }),
      expect.objectContaining({ rule: 'new-version', job: null, source: 'app' }),
    ]);
    expect((await env.app.inject({ url: '/api/why?job=zzz' })).statusCode).toBe(404);
    expect((await env.app.inject({ url: '/api/why' })).statusCode).toBe(400);
    expect((await env.app.inject({ url: '/api/why?job=a&source=app' })).statusCode).toBe(400);
  });

  it("a consumer's view shows its input's new versions, and an early cutoff once", async () => {
    await pushFirst();
    await env.push(sha('second')); // a rebuilds with the same output: nothing downstream runs
    const res = await env.app.inject({ url: '/api/why?job=b' });
    const rules = pluck(res.json().decisions, 'rule');
    expect(rules).toEqual(['early-cutoff', 'built', 'new-version']);
    expect(res.json().decisions[0]).toMatchObject({ job: 'b', source: 'a.out' });
    expect(res.json().decisions[2]).toMatchObject({ job: null, source: 'a.out' });
  });

  it('lists every decision about a source with ?source=', async () => {
    await pushFirst();
    const res = await env.app.inject({ url: '/api/why?source=app' });
    expect(res.statusCode).toBe(200);
    expect(res.json().source).toBe('app');
    expect(res.json().decisions[0]).toMatchObject({ source: 'app', rule: 'built' });
    expect(pluck(res.json().decisions, 'rule')).toContain('new-version');
    const missing = await env.app.inject({ url: '/api/why?source=nope' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.message).toBe('no source "nope" in the pipeline');
  });

  it('GET /api/events/:id: one event and its decisions', async () => {
    await pushFirst();
    const [first] = (await env.app.inject({ url: '/api/why?source=app' })).json().decisions;
    const res = await env.app.inject({ url: `/api/events/${first.eventId}` });
    expect(res.statusCode).toBe(200);
    expect(res.json().event).toMatchObject({
      id: first.eventId,
      kind: 'source',
      source: 'app',
      version: sha('first'),
      outcome: 'built',
      ancestry: null,
    });
    expect(pluck(res.json().decisions, 'rule')).toEqual(['built', 'new-version']);
    expect((await env.app.inject({ url: '/api/events/99999' })).statusCode).toBe(404);
    expect((await env.app.inject({ url: '/api/events/abc' })).statusCode).toBe(400);
  });
});

describe('read auth', () => {
  it('guards read endpoints but not health or the OpenAPI document', async () => {
    const guarded = await startTestEnv({ readAuth: true });
    try {
      expect((await guarded.app.inject({ url: '/api/builds' })).statusCode).toBe(401);
      expect((await guarded.app.inject({ url: '/api/builds', headers: AUTH })).statusCode).toBe(
        200,
      );
      expect((await guarded.app.inject({ url: '/healthz' })).statusCode).toBe(200);
      expect((await guarded.app.inject({ url: '/readyz' })).statusCode).toBe(200);
      expect((await guarded.app.inject({ url: '/api/openapi.json' })).statusCode).toBe(200);
    } finally {
      await guarded.close();
    }
  });
});

describe('extra routes', () => {
  it('plugs in route modules that share the error handler and auth', async () => {
    const ext = await startTestEnv({
      extraAccess: {
        'POST /api/webhooks/test': 'public',
        'POST /api/admin/thing': 'admin',
        'GET /api/boom': 'read',
      },
      extraRoutes: [
        (app) => {
          app.post('/api/webhooks/test', () => ({ accepted: true }));
          app.post('/api/admin/thing', () => ({ done: true }));
          app.get('/api/boom', () => {
            throw new Error('secret internals at /srv/db.sqlite');
          });
          return Promise.resolve();
        },
      ],
    });
    try {
      expect((await ext.app.inject({ method: 'POST', url: '/api/webhooks/test' })).json()).toEqual({
        accepted: true,
      });
      expect((await ext.app.inject({ method: 'POST', url: '/api/admin/thing' })).statusCode).toBe(
        401,
      );
      const boom = await ext.app.inject({ url: '/api/boom' });
      expect(boom.statusCode).toBe(500);
      expect(boom.json()).toEqual({ error: { code: 'NL_INTERNAL', message: 'internal error' } });
    } finally {
      await ext.close();
    }
  });
});

describe('route access', () => {
  it('refuses to start with a route that declares no access', async () => {
    await expect(
      startTestEnv({
        extraRoutes: [
          (app) => {
            app.get('/api/undeclared', () => ({}));
            return Promise.resolve();
          },
        ],
      }),
    ).rejects.toThrow(/route "GET \/api\/undeclared" declares no access/);
  });
});

describe('readiness', () => {
  it('answers 503 while the caller says the server is not ready', async () => {
    let ready = false;
    const ctx = await startTestEnv({ ready: () => ready });
    try {
      const res = await ctx.app.inject({ url: '/readyz' });
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('NL_UNAVAILABLE');
      ready = true;
      expect((await ctx.app.inject({ url: '/readyz' })).statusCode).toBe(200);
    } finally {
      await ctx.close();
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
