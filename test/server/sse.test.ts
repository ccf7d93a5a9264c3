import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readEvents, sha, startTestEnv, type SseEvent, type TestEnv } from './helpers.js';

let env: TestEnv;
let base: string;
beforeEach(async () => {
  env = await startTestEnv({ sseHeartbeatMs: 100 });
  const address = await env.app.listen({ host: '127.0.0.1', port: 0 });
  base = address;
});
afterEach(async () => {
  await env.close();
});

const timeout = () => AbortSignal.timeout(10_000);

function lifecycle(events: SseEvent[], buildId: number): string[] {
  return events
    .filter(
      (e) =>
        e.event.startsWith('build.') && (e.data as { build: { id: number } }).build.id === buildId,
    )
    .map((e) => e.event);
}

function announce(version: string): Promise<unknown> {
  return env.engine.ingest({
    kind: 'source',
    source: 'app',
    version,
    ref: 'main',
    origin: 'webhook',
    deliveryId: null,
    changedPaths: null,
    producedBy: null,
    receivedAt: Date.now(),
  });
}

describe('GET /api/events', () => {
  it('streams lifecycle events in order: queued → started → finished', async () => {
    await env.setOutput('a', 'one');
    const res = await fetch(`${base}/api/events`, { signal: timeout() });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const reading = readEvents(res, (evs) =>
      evs.some(
        (e) =>
          e.event === 'build.finished' && (e.data as { build: { job: string } }).build.job === 'b',
      ),
    );
    await announce(sha('one'));
    const events = await reading;
    expect(lifecycle(events, 1)).toEqual(['build.queued', 'build.started', 'build.finished']);
    expect(lifecycle(events, 2)).toEqual(['build.queued', 'build.started', 'build.finished']);
    const builds = events.filter((e) => e.event.startsWith('build.'));
    const ids = builds.map((e) => Number(e.id));
    expect(ids).toEqual([...ids].sort((x, y) => x - y));
    const finished = builds.find((e) => e.event === 'build.finished')!;
    expect(finished.data).toMatchObject({
      type: 'finished',
      build: { id: 1, job: 'a', state: 'passed' },
    });
  });

  it('filters by job and sends heartbeats', async () => {
    await env.setOutput('a', 'one');
    const res = await fetch(`${base}/api/events?job=b`, { signal: timeout() });
    const reading = readEvents(res, (evs) => evs.some((e) => e.event === 'build.finished'));
    await announce(sha('one'));
    const events = await reading;
    const jobs = events
      .filter((e) => e.event.startsWith('build.'))
      .map((e) => (e.data as { build: { job: string } }).build.job);
    expect(new Set(jobs)).toEqual(new Set(['b']));

    const idle = await fetch(`${base}/api/events`, { signal: timeout() });
    const beats = await readEvents(idle, (evs) =>
      evs.some((e) => e.comments.includes('heartbeat')),
    );
    expect(beats.some((e) => e.comments.includes('heartbeat'))).toBe(true);
  });

  it('replays what a reconnecting client missed after Last-Event-ID, then goes live', async () => {
    await env.setOutput('a', 'one');
    await env.push(sha('one'));
    const res = await fetch(`${base}/api/events`, {
      headers: { 'last-event-id': '2' },
      signal: timeout(),
    });
    const reading = readEvents(res, (evs) =>
      evs.some(
        (e) => e.event === 'build.finished' && (e.data as { build: { id: number } }).build.id === 3,
      ),
    );
    await env.app.inject({
      method: 'POST',
      url: '/api/jobs/a/trigger',
      headers: { authorization: 'Bearer test-token-0123456789' },
      payload: { force: true },
    });
    const events = (await reading).filter((e) => e.event.startsWith('build.'));
    const ids = events.map((e) => Number(e.id));
    expect(ids[0]).toBe(3);
    expect(ids).toEqual([...new Set(ids)].sort((x, y) => x - y));
    expect(lifecycle(events, 1)).toEqual(['build.finished']);
    expect(lifecycle(events, 3)).toEqual(['build.queued', 'build.started', 'build.finished']);
  });

  it('rejects a bad query with a JSON 400', async () => {
    const res = await fetch(`${base}/api/events?job=`, { signal: timeout() });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NL_BAD_REQUEST');
  });

  it('unsubscribes from the bus when the client goes away', async () => {
    const before = env.bus.active;
    const abort = new AbortController();
    const res = await fetch(`${base}/api/events`, { signal: abort.signal });
    expect(env.bus.active).toBe(before + 1);
    const follow = new AbortController();
    env.executor.hold('a');
    await env.setOutput('a', 'one');
    await announce(sha('one'));
    await env.engine.decided();
    const log = await fetch(`${base}/api/builds/1/log?follow=1`, { signal: follow.signal });
    expect(log.status).toBe(200);
    expect(env.bus.active).toBe(before + 3);
    abort.abort();
    follow.abort();
    await res.body?.cancel().catch(() => undefined);
    for (let i = 0; i < 100 && env.bus.active > before; i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(env.bus.active).toBe(before);
    env.executor.release('a');
    await env.engine.settled();
  });

  it('ends open streams when the server closes', async () => {
    const res = await fetch(`${base}/api/events`, { signal: timeout() });
    const reading = readEvents(res, () => false);
    await new Promise((r) => setTimeout(r, 50));
    await env.app.close();
    await expect(reading).resolves.toBeDefined();
  });
});

describe('GET /api/builds/:id/log (follow)', () => {
  it('follows a running build and ends with its state', async () => {
    await env.setOutput('a', 'one');
    env.executor.hold('a');
    await announce(sha('one'));
    await env.engine.decided();
    const res = await fetch(`${base}/api/builds/1/log`, {
      headers: { accept: 'text/event-stream' },
      signal: timeout(),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    let released = false;
    const events = await readEvents(res, (evs) => {
      // Release the build once the lines written before the hold arrived.
      if (!released && evs.filter((e) => e.event === 'line').length >= 2) {
        released = true;
        env.executor.release('a');
      }
      return evs.some((e) => e.event === 'end');
    });
    const lines = events
      .filter((e) => e.event === 'line')
      .map((e) => (e.data as { text: string }).text);
    expect(lines).toEqual(['build #1 of a', 'hello from a', 'a warning on stderr', 'passed']);
    expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'passed' } });
    const withIds = events.filter((e) => e.event === 'line' && e.id !== null);
    expect(withIds.length).toBeGreaterThan(0);
    await env.engine.settled();
  });

  it('sends a finished build from an offset (?follow=1, Last-Event-ID) and ends', async () => {
    await env.setOutput('a', 'one');
    await env.push(sha('one'));
    const all = await readEvents(
      await fetch(`${base}/api/builds/1/log?follow=1`, { signal: timeout() }),
      () => false,
    );
    expect(all.filter((e) => e.event === 'line')).toHaveLength(4);
    expect(all.at(-1)).toMatchObject({ event: 'end', data: { state: 'passed' } });

    const page = (await env.app.inject({ url: '/api/builds/1/log?limit=30' })).json();
    const rest = await readEvents(
      await fetch(`${base}/api/builds/1/log?follow=1`, {
        headers: { 'last-event-id': String(page.nextOffset) },
        signal: timeout(),
      }),
      () => false,
    );
    expect(rest.filter((e) => e.event === 'line')).toHaveLength(4 - page.lines.length);
  });

  it('answers 404 as JSON for an unknown build', async () => {
    const res = await fetch(`${base}/api/builds/42/log?follow=1`, { signal: timeout() });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('NL_NOT_FOUND');
  });
});
