import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUTH, sha, startTestEnv, type TestEnv } from './helpers.js';

let env: TestEnv;
beforeEach(async () => {
  env = await startTestEnv();
});
afterEach(async () => {
  await env.close();
});

interface Node {
  build: { id: number; job: string; state: string; startedAt: number | null };
  via: { source: string; version: string };
  estimatedFinishAt: number | null;
  reused: { identicalOutputOf: number } | null;
  children: Node[];
  expected: Array<{ job: string; via: string; estimatedFinishAt: number | null }>;
}

describe('GET /api/trace/:source/:version', () => {
  it('follows a commit through a → a.out → b', async () => {
    const digest = await env.setOutput('a', 'artifact\n');
    await env.push(sha('one'));
    const res = await env.app.inject({ url: `/api/trace/app/${sha('one').slice(0, 7)}` });
    expect(res.statusCode).toBe(200);
    const body = res.json<{ source: string; version: string; nodes: Node[] }>();
    expect(body.source).toBe('app');
    expect(body.version).toBe(sha('one'));
    expect(body.nodes).toHaveLength(1);
    const [a] = body.nodes;
    expect(a).toMatchObject({
      build: { id: 1, job: 'a', state: 'passed' },
      via: { source: 'app', version: sha('one') },
      estimatedFinishAt: null,
    });
    expect(a!.children).toEqual([
      expect.objectContaining({
        build: expect.objectContaining({ id: 2, job: 'b', state: 'passed' }),
        via: { source: 'a.out', version: digest },
        children: [],
      }),
    ]);

    // The output version can be traced too.
    const fromOutput = (await env.app.inject({ url: `/api/trace/a.out/${digest}` })).json<{
      nodes: Node[];
    }>();
    expect(fromOutput.nodes.map((n) => n.build.id)).toEqual([2]);
  });

  it('estimates when an unfinished downstream build finishes', async () => {
    await env.setOutput('a', 'artifact\n');
    await env.push(sha('one'));
    env.executor.hold('a');
    await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { force: true },
    });
    const before = Date.now();
    const body = (await env.app.inject({ url: `/api/trace/app/${sha('one')}` })).json<{
      nodes: Node[];
    }>();
    const running = body.nodes.find((n) => n.build.id === 3)!;
    expect(['queued', 'running']).toContain(running.build.state);
    // One finished build of `a` gives a median; the estimate is start (or now) plus it.
    expect(running.estimatedFinishAt).toBeGreaterThanOrEqual(running.build.startedAt ?? before);
    expect(body.nodes.find((n) => n.build.id === 1)!.estimatedFinishAt).toBeNull();
    env.executor.release('a');
    await env.engine.settled();
  });

  it('answers 404 for an unknown version and 409 listing candidates for an ambiguous prefix', async () => {
    await env.setOutput('a', 'artifact\n');
    await env.push('abc1000000000000000000000000000000000000');
    await env.setOutput('a', 'artifact 2\n');
    await env.push('abc2000000000000000000000000000000000000');
    const missing = await env.app.inject({ url: '/api/trace/app/fff' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.code).toBe('NL_NOT_FOUND');
    expect((await env.app.inject({ url: '/api/trace/nosuch/abc' })).statusCode).toBe(404);
    const ambiguous = await env.app.inject({ url: '/api/trace/app/abc' });
    expect(ambiguous.statusCode).toBe(409);
    expect(ambiguous.json().error).toMatchObject({
      code: 'NL_AMBIGUOUS',
      details: {
        candidates: [
          'abc1000000000000000000000000000000000000',
          'abc2000000000000000000000000000000000000',
        ],
      },
    });
    const unique = await env.app.inject({ url: '/api/trace/app/abc2' });
    expect(unique.json<{ nodes: Node[] }>().nodes.map((n) => n.build.id)).toEqual([3]);
  });

  it('marks downstream builds reached through an identical output as reused, not rebuilt', async () => {
    await env.setOutput('a', 'same\n');
    await env.push(sha('one'));
    await env.push(sha('two')); // a rebuilds and makes byte-identical output: b does not run
    const body = (await env.app.inject({ url: `/api/trace/app/${sha('two')}` })).json<{
      nodes: Node[];
    }>();
    expect(body.nodes).toHaveLength(1);
    const [a] = body.nodes;
    expect(a).toMatchObject({ build: { id: 3, job: 'a' }, reused: null });
    expect(a!.children).toEqual([
      expect.objectContaining({
        build: expect.objectContaining({ id: 2, job: 'b' }),
        reused: { identicalOutputOf: 1 },
        children: [],
      }),
    ]);
    // From the first commit, b #2 is its own work.
    const first = (await env.app.inject({ url: `/api/trace/app/${sha('one')}` })).json<{
      nodes: Node[];
    }>();
    expect(first.nodes[0]!.children[0]).toMatchObject({ build: { id: 2 }, reused: null });
  });

  it('estimates queued builds behind the running one (one slot) and jobs not queued yet', async () => {
    await env.setOutput('a', 'v1\n');
    await env.push(sha('one')); // history: a and b have one duration each
    await env.setOutput('a', 'v2\n');
    env.executor.hold('a');
    await env.engine.ingest({
      kind: 'source',
      source: 'app',
      version: sha('two'),
      ref: 'main',
      origin: 'webhook',
      deliveryId: null,
      changedPaths: null,
      producedBy: null,
      receivedAt: Date.now(),
    });
    await env.engine.decided();
    for (let i = 0; i < 200 && (await env.store.read.getBuild(3))?.state !== 'running'; i++)
      await new Promise((r) => setTimeout(r, 10));
    await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: AUTH,
      payload: { force: true },
    });
    const body = (await env.app.inject({ url: `/api/trace/app/${sha('two')}` })).json<{
      nodes: Node[];
    }>();
    const [running, queued] = body.nodes;
    expect(running).toMatchObject({ build: { job: 'a', state: 'running' } });
    expect(queued).toMatchObject({ build: { job: 'a', state: 'queued' } });
    expect(running!.estimatedFinishAt).not.toBeNull();
    // The queued build starts when the running one frees the slot: its estimate is later.
    expect(queued!.estimatedFinishAt!).toBeGreaterThanOrEqual(running!.estimatedFinishAt!);
    // b has no build for this commit yet, but an estimate after a's.
    expect(running!.expected).toEqual([
      { job: 'b', via: 'a.out', estimatedFinishAt: expect.any(Number), expected: [] },
    ]);
    expect(running!.expected[0]!.estimatedFinishAt!).toBeGreaterThanOrEqual(
      running!.estimatedFinishAt!,
    );
    env.executor.release('a');
    await env.engine.settled();
  });
});
