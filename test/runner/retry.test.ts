import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxRecord } from '../../src/store/ports.js';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({
  sources: { app: git('main') },
  jobs: {
    build: job({
      inputs: ['app'],
      retry: { on: ['network', 'infrastructure'], attempts: 2, backoffMs: 50 },
    }),
  },
});

describe('engine: retry of network/infrastructure failures (SQLite, scripted executor)', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('re-runs a network failure once as a new linked build and reports only the retry’s result', async () => {
    h = await startHarness(p, { slots: 1 });
    const lifecycle: OutboxRecord[] = [];
    h.bus.subscribe('build', (r) => lifecycle.push(r));
    h.executor.script(
      'build',
      { state: 'error', code: 'network', reason: 'git fetch failed: Connection refused' },
      { state: 'passed' },
    );
    await h.push('app', 'a1');
    await expect.poll(async () => (await h.builds()).length, { timeout: 5_000 }).toBe(2);
    await h.settle();
    const [first, retry] = await h.builds();
    expect(first).toMatchObject({
      id: 1,
      state: 'error',
      failureClass: 'network',
      relatedBuild: 2,
      attempt: 1,
    });
    expect(retry).toMatchObject({
      id: 2,
      state: 'passed',
      failureClass: null,
      relatedBuild: 1,
      attempt: 2,
      cause: { kind: 'retry', previousBuild: 1 },
      inputs: [expect.objectContaining({ version: 'a1' })],
    });
    // Reported once: the first attempt's ending never went out; the retry's did.
    const endings = lifecycle.filter((r) => r.type === 'finished');
    expect(endings.map((r) => [r.build.id, r.build.state])).toEqual([[2, 'passed']]);
  });

  it('never retries a failing step, and stops after the attempts', async () => {
    h = await startHarness(p, { slots: 1 });
    h.executor.script(
      'build',
      { state: 'failed', exitCode: 3 },
      { state: 'error', code: 'lost' },
      { state: 'error', code: 'lost' },
    );
    await h.push('app', 'a1');
    await h.settle();
    expect((await h.builds()).map((b) => [b.state, b.failureClass])).toEqual([['failed', 'user']]);
    await h.push('app', 'a2');
    await expect.poll(async () => (await h.builds()).length, { timeout: 5_000 }).toBe(3);
    await h.settle();
    const builds = await h.builds();
    expect(builds.map((b) => [b.id, b.state, b.failureClass, b.attempt])).toEqual([
      [1, 'failed', 'user', 1],
      [2, 'error', 'infrastructure', 1],
      [3, 'error', 'infrastructure', 2],
    ]);
  });

  it('a crash during the backoff loses neither the retry nor the report: it runs after the restart, reported once', async () => {
    const slow = pipeline({
      sources: { app: git('main') },
      jobs: {
        build: job({
          inputs: ['app'],
          retry: { on: ['network', 'infrastructure'], attempts: 2, backoffMs: 1_500 },
        }),
      },
    });
    h = await startHarness(slow, { slots: 1 });
    const lifecycle: OutboxRecord[] = [];
    h.bus.subscribe('build', (r) => lifecycle.push(r));
    h.executor.script(
      'build',
      { state: 'error', code: 'network', reason: 'git fetch failed: Connection refused' },
      { state: 'passed' },
    );
    await h.push('app', 'a1');
    // The first attempt ended: its retry is already in the queue, waiting out the backoff.
    await expect
      .poll(async () => (await h.builds()).map((b) => [b.id, b.state]), { timeout: 5_000 })
      .toEqual([
        [1, 'error'],
        [2, 'queued'],
      ]);
    const ended = Date.now();
    await h.restart(); // the process dies during the backoff
    await expect
      .poll(async () => (await h.builds())[1]?.state, { timeout: 10_000, interval: 100 })
      .toBe('passed');
    await h.settle();
    const [first, retry] = await h.builds();
    expect(first).toMatchObject({ state: 'error', failureClass: 'network', relatedBuild: 2 });
    expect(retry).toMatchObject({ attempt: 2, cause: { kind: 'retry', previousBuild: 1 } });
    // The backoff was kept across the restart, not skipped.
    expect(retry!.startedAt! - ended).toBeGreaterThanOrEqual(1_000);
    const endings = lifecycle.filter((r) => r.type === 'finished');
    expect(endings.map((r) => [r.build.id, r.build.state])).toEqual([[2, 'passed']]);
  });

  it('a retry in its backoff does not hold its concurrency group: a newer version builds meanwhile', async () => {
    const slow = pipeline({
      sources: { app: git('main') },
      jobs: {
        build: job({
          inputs: ['app'],
          retry: { on: ['network'], attempts: 2, backoffMs: 60_000 },
        }),
      },
    });
    h = await startHarness(slow, { slots: 1 });
    h.executor.script(
      'build',
      { state: 'error', code: 'network', reason: 'git fetch failed: Connection refused' },
      { state: 'passed' },
    );
    await h.push('app', 'a1');
    await expect.poll(async () => (await h.builds()).length, { timeout: 5_000 }).toBe(2);
    await h.push('app', 'a2');
    await expect.poll(async () => (await h.builds())[2]?.state, { timeout: 5_000 }).toBe('passed');
    const builds = await h.builds();
    expect(builds.map((b) => [b.id, b.attempt, b.inputs[0]?.version])).toEqual([
      [1, 1, 'a1'],
      [2, 2, 'a1'],
      [3, 1, 'a2'],
    ]);
    // The retry still waits; it was not started early.
    expect(builds[1]!.startedAt).toBeNull();
  });
});
