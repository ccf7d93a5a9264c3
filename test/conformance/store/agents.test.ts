import { expect, it } from 'vitest';
import type { RunResult } from '../../../src/executor/port.js';
import { agents, outbox, queue, reads } from '../ports.js';
import { finished, forEachStore, queued, sha } from './fixtures.js';

const failedStep = {
  state: 'failed',
  step: 'test',
  exitCode: 1,
  outputs: [],
  coverage: null,
  warnings: [],
} as unknown as RunResult;

const networkError = {
  state: 'error',
  code: 'network',
  step: null,
  reason: 'git fetch failed: Connection refused',
  outputs: [],
  coverage: null,
  warnings: [],
} as unknown as RunResult;

forEachStore('agents and leases', (store) => {
  /** An agent's claim: leased until `until`, any job (or only `jobs`). */
  const lease = (worker: string, now: number, until: number, jobs: string[] | null = null) =>
    queue(store()).claimNextBuild(worker, now, { jobs, leaseUntil: until });
  const typesOf = async (id: number) =>
    (await outbox(store()).outboxSince(0, 100)).filter((o) => o.buildId === id).map((o) => o.type);

  it('records agents by name: labels, slots and version replaced, first seen kept', async () => {
    await agents(store()).recordAgent(
      { name: 'b1', labels: ['linux', 'arm64'], slots: 2, version: '1.0.0' },
      1000,
    );
    await agents(store()).recordAgent({ name: 'a0', labels: [], slots: 1, version: '1.0.0' }, 1100);
    await agents(store()).recordAgent(
      { name: 'b1', labels: ['linux'], slots: 4, version: '1.1.0' },
      2000,
    );
    expect(await agents(store()).listAgents()).toEqual([
      {
        name: 'a0',
        labels: [],
        slots: 1,
        version: '1.0.0',
        firstSeenAt: 1100,
        lastHeartbeatAt: 1100,
      },
      {
        name: 'b1',
        labels: ['linux'],
        slots: 4,
        version: '1.1.0',
        firstSeenAt: 1000,
        lastHeartbeatAt: 2000,
      },
    ]);
  });

  it('a leased claim takes only the listed jobs and holds a lease; local claims take none', async () => {
    const any = { concurrency: { group: 'g-other', limit: 1, supersede: true } };
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', { job: 'other', ...any }],
      ['fp2', { job: 'arm', concurrency: { group: 'g-arm', limit: 1, supersede: true } }],
    ]);
    expect(await lease('x', 2100, 9000, [])).toBeNull();
    expect((await lease('x', 2100, 9000, ['arm']))?.id).toBe(b);
    expect(await lease('x', 2100, 9000, ['arm'])).toBeNull();
    expect(await agents(store()).leasedBuilds()).toEqual([
      { id: b, job: 'arm', worker: 'x', leaseExpiresAt: 9000 },
    ]);
    // A local slot's claim has no lease: not listed, never expired by a sweep.
    expect((await queue(store()).claimNextBuild('local', 2200))?.id).toBe(a);
    expect((await agents(store()).leasedBuilds()).map((l) => l.id)).toEqual([b]);
    expect((await agents(store()).expireLeases(99_999, 2)).lost.map((l) => l.id)).toEqual([b]);
    expect((await reads(store()).getBuild(a!))?.state).toBe('running');
  });

  it('renews only the leases the worker still holds', async () => {
    const two = { concurrency: { group: 'g', limit: 2, supersede: true } };
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', two],
      ['fp2', two],
    ]);
    await lease('x', 2100, 5000);
    await lease('y', 2100, 5000);
    expect(await agents(store()).renewLeases('x', [a!, b!, 777], 8000)).toEqual([a]);
    expect(await agents(store()).renewLeases('x', [], 8000)).toEqual([]);
    const leases = await agents(store()).leasedBuilds();
    expect(leases.map((l) => [l.id, l.worker, l.leaseExpiresAt])).toEqual([
      [a, 'x', 8000],
      [b, 'y', 5000],
    ]);
  });

  it('only the holder records a result: failure class stored, one finished row', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await lease('x', 2100, 9000);
    expect(await agents(store()).finishLeased(a!, 'y', finished(), 2500)).toBeNull();
    expect((await reads(store()).getBuild(a!))?.state).toBe('running');
    const done = await agents(store()).finishLeased(a!, 'x', finished(failedStep), 2600);
    expect(done).toMatchObject({ id: a, state: 'failed', failureClass: 'user', finishedAt: 2600 });
    expect(await agents(store()).leasedBuilds()).toEqual([]);
    // Sent again (the answer got lost): nothing is written twice, the recorded ending is the
    // answer — still only to the holder.
    expect(await agents(store()).finishLeased(a!, 'x', finished(), 2700)).toMatchObject({
      id: a,
      state: 'failed',
      finishedAt: 2600,
    });
    expect(await agents(store()).finishLeased(a!, 'y', finished(), 2800)).toBeNull();
    expect(await typesOf(a!)).toEqual(['queued', 'started', 'finished']);
  });

  it("an agent's retryable failure queues the retry with its backoff instead of a finished row", async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await lease('x', 2100, 9000);
    await agents(store()).finishLeased(a!, 'x', { ...finished(networkError), retryAt: 5000 }, 2200);
    expect(await reads(store()).getBuild(a!)).toMatchObject({
      state: 'error',
      failureClass: 'network',
      relatedBuild: a! + 1,
    });
    expect(await typesOf(a!)).toEqual(['queued', 'started']);
    expect(await typesOf(a! + 1)).toEqual(['queued']);
    expect(await lease('y', 4999, 20_000)).toBeNull();
    expect((await lease('y', 5000, 20_000))?.id).toBe(a! + 1);
  });

  it('an expired lease ends the build error: lost (infrastructure) and re-queues it once', async () => {
    await agents(store()).recordAgent({ name: 'x', labels: [], slots: 1, version: '1' }, 1000);
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await lease('x', 2100, 3000);
    expect(await agents(store()).expireLeases(3000, 2)).toEqual({ lost: [], requeued: [] });
    const { lost, requeued } = await agents(store()).expireLeases(3001, 2);
    expect(lost).toMatchObject([
      {
        id: a,
        state: 'error',
        failureClass: 'infrastructure',
        reason: 'lost: agent x stopped renewing its lease',
      },
    ]);
    expect(requeued).toMatchObject([{ id: a! + 1, state: 'queued', attempt: 2, relatedBuild: a }]);
    expect(await typesOf(a!)).toEqual(['queued', 'started', 'finished']);
    // The stale agent comes back: its result is refused and the re-run's stands.
    expect(await agents(store()).finishLeased(a!, 'x', finished(), 3100)).toBeNull();
    await lease('y', 3200, 9000);
    await agents(store()).finishLeased(a! + 1, 'y', finished(), 3300);
    expect(await agents(store()).finishLeased(a!, 'x', finished(), 3400)).toBeNull();
    expect((await reads(store()).getBuild(a!))?.state).toBe('error');
    expect((await reads(store()).getBuild(a! + 1))?.state).toBe('passed');
    // The last attempt lost is not re-queued again (maxAttempts 2).
    const [c] = await queued(store(), sha(2), [['fp2']], 4000);
    await lease('x', 4100, 4200);
    const again = await agents(store()).expireLeases(4300, 1);
    expect(again.lost.map((b) => b.id)).toEqual([c]);
    expect(again.requeued).toEqual([]);
  });

  it('an expired lease of a supersede: false job re-queues it though a newer build waits', async () => {
    const keep = { concurrency: { group: 'g', limit: 1, supersede: false } };
    const replace = { concurrency: { group: 'h', limit: 1, supersede: true } };
    const [a, b, c, d] = await queued(store(), sha(1), [
      ['fp1', keep],
      ['fp2', keep],
      ['fp3', replace],
      ['fp4', replace],
    ]);
    // A replica's claims whose answers it never got (cut off mid-commit): only the lease ends them.
    await lease('replica-1', 2100, 3000);
    await lease('replica-1', 2100, 3000);
    const { lost, requeued } = await agents(store()).expireLeases(3001, 2);
    expect(lost.map((l) => [l.id, l.state, l.relatedBuild])).toEqual([
      [a, 'error', null],
      [c, 'error', d],
    ]);
    expect(requeued.map((r) => [r.id, r.attempt, r.relatedBuild])).toEqual([[d! + 1, 2, a]]);
    expect((await reads(store()).getBuild(b!))?.state).toBe('queued');
  });

  it('a restart recovers local builds only; extending leases gives agents time to check in', async () => {
    const two = { concurrency: { group: 'g', limit: 2, supersede: true } };
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', two],
      ['fp2', two],
    ]);
    await lease('x', 2100, 3000);
    await queue(store()).claimNextBuild('local', 2100);
    const recovered = await queue(store()).recoverLostBuilds(2500, 1);
    expect(recovered.lost.map((l) => l.id)).toEqual([b]);
    await agents(store()).extendAllLeases(60_000);
    expect(await agents(store()).expireLeases(59_999, 1)).toEqual({ lost: [], requeued: [] });
    expect((await agents(store()).leasedBuilds()).map((l) => [l.id, l.leaseExpiresAt])).toEqual([
      [a, 60_000],
    ]);
  });

  it("a replica's lease: lost as a replica's, and its own restart recovers it at once", async () => {
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', { concurrency: { group: 'g1', limit: 1, supersede: true } }],
      ['fp2', { concurrency: { group: 'g2', limit: 1, supersede: true } }],
    ]);
    // Two server replicas' slots (no `agents` row): leased like agents' builds.
    await lease('replica-1', 2100, 3000);
    await lease('replica-2', 2100, 3000);
    const swept = await agents(store()).expireLeases(3001, 2);
    expect(swept.lost.map((l) => [l.id, l.reason])).toEqual([
      [a, 'lost: replica replica-1 stopped renewing its lease'],
      [b, 'lost: replica replica-2 stopped renewing its lease'],
    ]);
    // The re-runs, leased again; replica-1 restarts before its lease ends: it recovers its own
    // leased build (it runs nothing), and leaves replica-2's alone.
    const [r1, r2] = [await lease('replica-1', 3100, 9000), await lease('replica-2', 3100, 9000)];
    const recovered = await queue(store()).recoverLostBuilds(3200, 3, 'replica-1');
    expect(recovered.lost.map((l) => [l.id, l.reason])).toEqual([
      [r1?.id, 'lost: the server stopped while the build was running'],
    ]);
    expect((await reads(store()).getBuild(r2!.id))?.state).toBe('running');
    // A late result of the lost attempt is refused by the lease check.
    expect(await agents(store()).finishLeased(a!, 'replica-1', finished(), 3300)).toBeNull();
    expect(await typesOf(a!)).toEqual(['queued', 'started', 'finished']);
  });

  it('hands back the builds a worker holds but does not run, as the same queued builds', async () => {
    const own = (g: string) => ({ concurrency: { group: g, limit: 1, supersede: true } });
    const [a, b, c] = await queued(store(), sha(1), [
      ['fp1', own('g1')],
      ['fp2', own('g2')],
      ['fp3', own('g3')],
    ]);
    await lease('replica-1', 2100, 9000);
    await lease('replica-1', 2100, 9000);
    await lease('replica-2', 2100, 9000);
    // replica-1 runs `a`; its claim of `b` committed but the answer was lost.
    const back = await agents(store()).handBackClaims('replica-1', [a!], 2500);
    expect(back.map((x) => [x.id, x.state, x.attempt])).toEqual([[b, 'queued', 1]]);
    expect(await reads(store()).getBuild(b!)).toMatchObject({ worker: null, startedAt: null });
    expect(await typesOf(b!)).toEqual(['queued', 'started', 'queued']);
    expect((await reads(store()).getBuild(a!))?.state).toBe('running');
    expect((await reads(store()).getBuild(c!))?.worker).toBe('replica-2');
    expect(await agents(store()).handBackClaims('replica-1', [a!], 2600)).toEqual([]);
    // The same build is claimed again; its lease is new, no lost attempt in between.
    expect((await lease('replica-1', 2700, 9000))?.id).toBe(b);
    expect((await agents(store()).handBackClaims('replica-3', [], 2800)).length).toBe(0);
  });

  it('racing sweeps and a late finish: each build ends once, reported once', async () => {
    const builds = Array.from({ length: 8 }, (_, i): [string, { concurrency: object }] => [
      `fp${i}`,
      { concurrency: { group: `g${i}`, limit: 1 } },
    ]);
    const ids = await queued(store(), sha(1), builds as never);
    for (let i = 0; i < ids.length; i++) await lease(`w${i}`, 2100, 3000);
    // Two replicas sweep while every agent delivers its result late, all at once.
    const [s1, s2, finishes] = await Promise.all([
      agents(store()).expireLeases(3001, 2),
      agents(store()).expireLeases(3001, 2),
      Promise.all(ids.map((id, i) => agents(store()).finishLeased(id, `w${i}`, finished(), 3001))),
    ]);
    for (const [i, id] of ids.entries()) {
      const lostBy = [s1, s2].filter((s) => s.lost.some((l) => l.id === id)).length;
      const finishedByAgent = finishes[i] !== null ? 1 : 0;
      expect(lostBy + finishedByAgent, `build ${id}`).toBe(1);
      const state = (await reads(store()).getBuild(id))?.state;
      expect(state).toBe(finishedByAgent ? 'passed' : 'error');
      expect((await typesOf(id)).filter((t) => t === 'finished')).toHaveLength(1);
    }
    const requeued = [...s1.requeued, ...s2.requeued];
    expect(requeued).toHaveLength(s1.lost.length + s2.lost.length);
  });
});
