import { expect, it } from 'vitest';
import { outbox, queue, reads, scheduler } from '../ports.js';
import { finished, forEachStore, outputEvent, passed, queued, sha } from './fixtures.js';

forEachStore('build queue', (store) => {
  const claim = async (now = 2100) => (await queue(store()).claimNextBuild('w', now))?.id ?? null;

  it('claims the oldest queued build once, marking it running for the worker', async () => {
    expect(await queue(store()).claimNextBuild('w0', 2000)).toBeNull();
    const two = { concurrency: { group: 'build@main', limit: 2, supersede: true } };
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', two],
      ['fp2', two],
    ]);
    const first = await queue(store()).claimNextBuild('w1', 2500);
    expect(first).toMatchObject({ id: a, state: 'running', startedAt: 2500 });
    expect(await reads(store()).getBuild(a!)).toMatchObject({ worker: 'w1' });
    expect(await claim()).toBe(b);
    expect(await claim()).toBeNull();
    const types = (await outbox(store()).outboxSince(0, 10)).map((o) => [o.buildId, o.type]);
    expect(types).toEqual([
      [a, 'queued'],
      [b, 'queued'],
      [a, 'started'],
      [b, 'started'],
    ]);
  });

  it('gives concurrent claimers different builds, each build to one claimer', async () => {
    const ids = await queued(
      store(),
      sha(1),
      Array.from({ length: 6 }, (_, i) => [
        `fp${i}`,
        { concurrency: { group: `g${i}`, limit: 1, supersede: true } },
      ]),
    );
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => queue(store()).claimNextBuild(`w${i}`, 2100)),
    );
    const got = claims.flatMap((c) => (c ? [c.id] : []));
    expect(got.sort((x, y) => x - y)).toEqual(ids);
    const started = (await outbox(store()).outboxSince(0, 50)).filter((o) => o.type === 'started');
    expect(started).toHaveLength(ids.length);
  });

  it('finishes a build with outputs, coverage delta against the previous build, and output events', async () => {
    const two = { concurrency: { group: 'build@main', limit: 2, supersede: true } };
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', two],
      ['fp2', two],
    ]);
    await claim();
    await claim();
    const digest = 'd'.repeat(64);
    const first = await queue(store()).finishBuild(
      a!,
      {
        result: passed({
          coverage: { lines: 80, branches: 50 },
          outputs: [{ name: 'dist', digest, files: [{ path: 'dist/a.tgz', digest, size: 3 }] }],
        }),
        logBytes: 42,
        outputEvents: [outputEvent('build.dist', digest, a!)],
      },
      3000,
    );
    expect(first).toMatchObject({
      state: 'passed',
      finishedAt: 3000,
      coverage: { lines: 80, branches: 50, linesDelta: null },
    });
    const second = await queue(store()).finishBuild(
      b!,
      {
        result: passed({ coverage: { lines: 82.5, branches: 40 } }),
        logBytes: 1,
        outputEvents: [],
      },
      3100,
    );
    expect(second.coverage).toEqual({
      lines: 82.5,
      branches: 40,
      linesDelta: 2.5,
      branchesDelta: -10,
    });
    expect(await reads(store()).getBuild(a!)).toMatchObject({
      logBytes: 42,
      outputs: [{ name: 'dist', digest }],
    });
    expect(await queue(store()).outputFiles('build.dist', digest)).toEqual([
      { path: 'dist/a.tgz', digest, size: 3 },
    ]);
    expect(await scheduler(store()).pendingEvents(10)).toMatchObject([
      { kind: 'source', source: 'build.dist', origin: 'output', producedBy: a },
    ]);
    const types = (await outbox(store()).outboxSince(0, 20)).map((o) => o.type);
    expect(types).toEqual(['queued', 'queued', 'started', 'started', 'finished', 'finished']);
  });

  it('stores failed and error endings with their step, exit code and reason', async () => {
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', { concurrency: { group: 'a', limit: 1, supersede: true } }],
      ['fp2', { concurrency: { group: 'b', limit: 1, supersede: true } }],
    ]);
    await claim();
    await claim();
    const failed = await queue(store()).finishBuild(
      a!,
      finished({
        state: 'failed',
        step: 'test',
        exitCode: 3,
        reason: 'step "test" exited with 3',
        outputs: [],
        coverage: null,
        warnings: [],
      }),
      3000,
    );
    expect(failed).toMatchObject({ state: 'failed', failedStep: 'test', exitCode: 3 });
    const error = await queue(store()).finishBuild(
      b!,
      finished({
        state: 'error',
        code: 'timeout',
        step: 'test',
        reason: 'timed out',
        outputs: [],
        coverage: null,
        warnings: [],
      }),
      3000,
    );
    expect(error).toMatchObject({ state: 'error', exitCode: null });
    expect(error.reason).toMatch(/time/);
  });

  it('claims past a concurrency group at its limit, and a group in queue order', async () => {
    const group = (g: string, limit = 1) => ({ concurrency: { group: g, limit, supersede: true } });
    const [m1, m2, d1, t1, t2, t3] = await queued(store(), sha(1), [
      ['m1', group('build@main')],
      ['m2', group('build@main')],
      ['d1', group('build@dev')],
      ['t1', group('test', 2)],
      ['t2', group('test', 2)],
      ['t3', group('test', 2)],
    ]);
    // main at its limit (1): dev and two of test start; the third of test waits too.
    expect([await claim(), await claim(), await claim(), await claim()]).toEqual([m1, d1, t1, t2]);
    expect(await claim()).toBeNull();
    await queue(store()).finishBuild(t2!, finished(), 2200);
    expect(await claim()).toBe(t3);
    await queue(store()).finishBuild(m1!, finished(), 2300);
    expect(await claim()).toBe(m2);
    expect(await claim()).toBeNull();
  });

  it('does not re-queue a lost build when a newer build of its group is queued', async () => {
    const [a, b] = await queued(store(), sha(1), [['fp1'], ['fp2']]);
    await claim();
    const { lost, requeued } = await queue(store()).recoverLostBuilds(5000, 2);
    expect(lost).toMatchObject([{ id: a, state: 'error', relatedBuild: b }]);
    expect(requeued).toEqual([]);
    expect(await claim(5100)).toBe(b);
  });

  it('re-queues a lost build of a supersede: false job even when a newer one is queued', async () => {
    // Every version of such a job must build: the newer build does not stand for the older one.
    const keep = { concurrency: { group: 'build@main', limit: 1, supersede: false } };
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', keep],
      ['fp2', keep],
    ]);
    await claim();
    const { lost, requeued } = await queue(store()).recoverLostBuilds(5000, 2);
    expect(lost).toMatchObject([{ id: a, state: 'error', failureClass: 'infrastructure' }]);
    expect(requeued).toMatchObject([{ id: b! + 1, state: 'queued', attempt: 2, relatedBuild: a }]);
    // The newer build is lost too, with the retry queued behind it: re-queued all the same.
    expect(await claim(5100)).toBe(b);
    const again = await queue(store()).recoverLostBuilds(5200, 3);
    expect(again.requeued).toMatchObject([{ id: b! + 2, attempt: 2, relatedBuild: b }]);
    // A retry keeps its job's supersede: false (its own loss re-queues it again).
    expect(await claim(5300)).toBe(b! + 1);
    const third = await queue(store()).recoverLostBuilds(5400, 3);
    expect(third.requeued).toMatchObject([{ attempt: 3, relatedBuild: b! + 1 }]);
  });

  it('marks builds left running as lost and re-queues each once, up to maxAttempts', async () => {
    await queued(store(), sha(1), [['fp1']]);
    await claim();
    const first = await queue(store()).recoverLostBuilds(5000, 2);
    expect(first.lost[0]).toMatchObject({ state: 'error' });
    expect(first.lost[0]!.reason).toMatch(/^lost/);
    expect(first.requeued[0]).toMatchObject({
      state: 'queued',
      attempt: 2,
      fingerprint: 'fp1',
      cause: { kind: 'retry', previousBuild: first.lost[0]!.id },
    });
    expect(await queue(store()).recoverLostBuilds(5050, 2)).toEqual({ lost: [], requeued: [] });
    await claim(5100);
    const second = await queue(store()).recoverLostBuilds(6000, 2);
    expect(second.lost).toHaveLength(1);
    expect(second.requeued).toEqual([]);
  });

  it("recovers only the named worker's builds when asked (a restarted replica, not a live one)", async () => {
    const [a, b] = await queued(store(), sha(1), [
      ['fp1'],
      ['fp2', { concurrency: { group: 'other', limit: 1, supersede: true } }],
    ]);
    expect((await queue(store()).claimNextBuild('replica-1', 2100))?.id).toBe(a);
    expect((await queue(store()).claimNextBuild('replica-2', 2100))?.id).toBe(b);
    const { lost } = await queue(store()).recoverLostBuilds(5000, 2, 'replica-2');
    expect(lost.map((l) => l.id)).toEqual([b]);
    expect(await reads(store()).getBuild(a!)).toMatchObject({ state: 'running' });
  });

  it('puts a running build back in the queue keeping its place, running builds only', async () => {
    const [a, b] = await queued(store(), sha(1), [
      ['fp1'],
      ['fp2', { concurrency: { group: 'other', limit: 1, supersede: true } }],
    ]);
    await claim();
    expect(await queue(store()).requeueBuild(b!, 2150)).toBeNull(); // still queued
    const requeued = await queue(store()).requeueBuild(a!, 2200);
    expect(requeued).toMatchObject({ id: a, state: 'queued', startedAt: null, attempt: 1 });
    expect(await queue(store()).requeueBuild(a!, 2300)).toBeNull();
    expect(
      (await outbox(store()).outboxSince(0, 20)).filter((o) => o.buildId === a).map((o) => o.type),
    ).toEqual(['queued', 'started', 'queued']);
    expect(await claim(2400)).toBe(a);
  });

  it('cancels queued builds only; a running build is left to its runner', async () => {
    const [a, b] = await queued(store(), sha(1), [
      ['fp1'],
      ['fp2', { concurrency: { group: 'other', limit: 1, supersede: true } }],
    ]);
    await claim();
    const cancelled = await queue(store()).cancelQueuedBuild(b!, 'cancelled by me', 2100);
    expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'cancelled by me' });
    expect(await queue(store()).cancelQueuedBuild(a!, 'too late', 2200)).toMatchObject({
      state: 'running',
    });
    expect(await queue(store()).cancelQueuedBuild(9999, 'x', 1)).toBeNull();
    expect(await claim()).toBeNull();
    const state = await scheduler(store()).loadSchedulerState();
    expect(state.builtFingerprints.map((x) => x.fingerprint)).toEqual(['fp1']);
  });
});
