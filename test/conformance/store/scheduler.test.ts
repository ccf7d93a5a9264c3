import { expect, it } from 'vitest';
import type { SourceEvent } from '../../../src/core/event.js';
import { inbox, outbox, queue, reads, scheduler } from '../ports.js';
import {
  advanceHead,
  eventFor,
  finished,
  forEachStore,
  push,
  queueBuild,
  queued,
  sha,
  skip,
} from './fixtures.js';

// The decision writer and the scheduler state it leaves behind (loadSchedulerState).
forEachStore('decision writer / scheduler state', (store) => {
  it('refuses to decide an event twice and writes nothing the second time (two schedulers)', async () => {
    const e = await eventFor(store(), sha(1));
    await scheduler(store()).applyDecisions(e, [queueBuild('fp1', e.version)], 2000);
    await expect(
      scheduler(store()).applyDecisions(e, [queueBuild('fp1', e.version)], 2100),
    ).rejects.toThrow(/decided already/);
    expect((await reads(store()).listBuilds({ limit: 10 })).map((b) => b.fingerprint)).toEqual([
      'fp1',
    ]);
    expect((await outbox(store()).outboxSince(0, 10)).map((o) => o.type)).toEqual(['queued']);
  });

  it('applies decisions atomically: head, build, inputs, decision log, outbox, processed event', async () => {
    const e = await eventFor(store(), sha(1));
    const applied = await scheduler(store()).applyDecisions(
      e,
      [advanceHead(e.version), queueBuild('fp1', e.version)],
      2000,
    );
    expect(applied.queued).toHaveLength(1);
    expect(applied.heads[0]).toMatchObject({ source: 'app', version: e.version, ref: 'main' });
    expect(await scheduler(store()).pendingEvents(10)).toEqual([]);
    const [build] = await reads(store()).listBuilds({ limit: 10 });
    expect(build).toMatchObject({
      job: 'build',
      state: 'queued',
      fingerprint: 'fp1',
      inputs: [{ source: 'app', version: e.version }],
    });
    const decisions = await reads(store()).listDecisions({ job: 'build', limit: 10 });
    expect(decisions[0]).toMatchObject({ rule: 'built', buildId: build!.id, origin: 'webhook' });
    expect((await outbox(store()).outboxSince(0, 10)).map((o) => o.type)).toEqual(['queued']);
    const state = await scheduler(store()).loadSchedulerState();
    expect(state.heads).toMatchObject([{ source: 'app', version: e.version, eventId: e.id }]);
    expect(state.activeBuilds.map((b) => b.fingerprint)).toEqual(['fp1']);
    expect(state.lastDefinitionHash.get('build')).toBe('def1');
    expect((await reads(store()).listSources())[0]).toMatchObject({
      name: 'app',
      eventsReceived: 1,
      heads: [{ ref: 'main', version: e.version }],
    });
  });

  it('keeps one head per source and ref, the newest version winning, with increasing seq', async () => {
    const apply = async (v: string, ref: string) => {
      const { id } = await inbox(store()).appendEvent(push(v, null, ref));
      const e = (await scheduler(store()).pendingEvents(10)).find((p) => p.id === id)!;
      return (await scheduler(store()).applyDecisions(e, [advanceHead(v, ref)], 2000)).heads[0]!;
    };
    const m1 = await apply(sha(1), 'main');
    const d1 = await apply(sha(2), 'dev');
    const m2 = await apply(sha(3), 'main');
    expect(d1.seq).toBeGreaterThan(m1.seq);
    expect(m2.seq).toBeGreaterThan(d1.seq);
    const heads = (await scheduler(store()).loadSchedulerState()).heads;
    expect(heads.map((h) => `${h.ref}=${h.version}@${h.seq}`).sort()).toEqual(
      [`dev=${sha(2)}@${d1.seq}`, `main=${sha(3)}@${m2.seq}`].sort(),
    );
  });

  it('supersedes queued builds with a pointer to their replacement, and only queued ones', async () => {
    const [id1, id2] = await queued(store(), sha(1), [
      ['fp1'],
      ['fp2', { concurrency: { group: 'other', limit: 1, supersede: true } }],
    ]);
    await queue(store()).claimNextBuild('w1', 2100); // fp1 runs
    await queue(store()).claimNextBuild('w1', 2100); // fp2 runs
    await queue(store()).finishBuild(id2!, finished(), 2200);
    const e2 = await eventFor(store(), sha(2));
    const [id3] = (
      await scheduler(store()).applyDecisions(e2, [queueBuild('fp3', e2.version)], 2300)
    ).queued.map((b) => b.id);
    const e3 = await eventFor(store(), sha(3));
    const applied = await scheduler(store()).applyDecisions(
      e3,
      [queueBuild('fp4', e3.version, { supersedes: [id1!, id2!, id3!], cancels: [id1!] })],
      3000,
    );
    expect(applied.superseded).toEqual([id3]);
    expect(applied.cancelRequested).toEqual([id1]);
    expect(await reads(store()).getBuild(id3!)).toMatchObject({
      state: 'superseded',
      relatedBuild: applied.queued[0]!.id,
    });
    expect((await reads(store()).getBuild(id1!))?.state).toBe('running');
    expect((await reads(store()).getBuild(id2!))?.state).toBe('passed');
    const state = await scheduler(store()).loadSchedulerState();
    expect(state.builtFingerprints.map((b) => b.fingerprint)).toEqual(['fp1', 'fp2', 'fp4']);
    expect(state.activeBuilds.map((b) => [b.fingerprint, b.state])).toEqual([
      ['fp1', 'running'],
      ['fp4', 'queued'],
    ]);
  });

  it('commits a batch of events together, or none of them', async () => {
    await inbox(store()).appendEvent(push(sha(1)));
    await inbox(store()).appendEvent(push(sha(2)));
    const [e1, e2] = (await scheduler(store()).pendingEvents(2)) as [SourceEvent, SourceEvent];
    await expect(
      scheduler(store()).batchDecisions(async (w) => {
        await w.applyDecisions(e1, [queueBuild('fp1', e1.version)], 2000);
        throw new Error('disk full');
      }),
    ).rejects.toThrow('disk full');
    expect((await scheduler(store()).pendingEvents(10)).map((e) => e.id)).toEqual([e1.id, e2.id]);
    expect(await reads(store()).listBuilds({ limit: 10 })).toEqual([]);
    expect(await outbox(store()).outboxSince(0, 10)).toEqual([]);

    const ids = await scheduler(store()).batchDecisions(async (w) => {
      const a = await w.applyDecisions(e1, [queueBuild('fp1', e1.version)], 2000);
      const b = await w.applyDecisions(
        e2,
        [queueBuild('fp2', e2.version, { supersedes: a.queued.map((q) => q.id) })],
        2001,
      );
      return [a.queued[0]!.id, b.queued[0]!.id];
    });
    expect(await scheduler(store()).pendingEvents(10)).toEqual([]);
    const builds = await reads(store()).listBuilds({ limit: 10 });
    expect(builds.map((b) => [b.id, b.state]).sort()).toEqual([
      [ids[0], 'superseded'],
      [ids[1], 'queued'],
    ]);
    expect((await reads(store()).listSources())[0]).toMatchObject({ eventsReceived: 2 });
  });

  it('records skips as finished builds pointing at the identical build, never counted', async () => {
    const e = await eventFor(store(), sha(1));
    const { skipped } = await scheduler(store()).applyDecisions(
      e,
      [skip('fp1', e.version, 7)],
      2000,
    );
    expect(await reads(store()).getBuild(skipped[0]!.id)).toMatchObject({
      state: 'skipped',
      reason: 'identical to build #7',
      relatedBuild: 7,
      finishedAt: 2000,
    });
    const state = await scheduler(store()).loadSchedulerState();
    expect(state.builtFingerprints).toEqual([]);
    // A skip does not make its definition the job's last one.
    expect(state.lastDefinitionHash.has('build')).toBe(false);
    expect((await outbox(store()).outboxSince(0, 10)).map((o) => o.type)).toEqual(['skipped']);
  });

  it("remembers each job's definition hash from its newest build that is not a skip", async () => {
    await queued(store(), sha(1), [['fp1', { definitionHash: 'old' }]]);
    await queued(store(), sha(2), [['fp2', { definitionHash: 'new', job: 'lint' }]]);
    await queued(store(), sha(3), [['fp3', { definitionHash: 'newer' }]]);
    const last = (await scheduler(store()).loadSchedulerState()).lastDefinitionHash;
    expect(Object.fromEntries(last)).toEqual({ build: 'newer', lint: 'new' });
  });

  it('turns due quiet periods into settle events exactly once; a later defer moves the due time', async () => {
    const e = await eventFor(store(), sha(1));
    const defer = (until: number) => ({
      kind: 'defer' as const,
      job: 'build',
      until,
      source: 'app',
      version: e.version,
      rule: 'deferred' as const,
      detail: '',
    });
    await scheduler(store()).applyDecisions(e, [defer(4000)], 2000);
    const e2 = await eventFor(store(), sha(2));
    await scheduler(store()).applyDecisions(e2, [defer(5000)], 2500);
    expect((await scheduler(store()).loadSchedulerState()).pendingSettles).toEqual([
      { job: 'build', dueAt: 5000 },
    ]);
    expect(await scheduler(store()).takeDueSettles(4999)).toEqual([]);
    expect(await scheduler(store()).takeDueSettles(5000)).toEqual(['build']);
    expect(await scheduler(store()).takeDueSettles(6000)).toEqual([]);
    expect(await scheduler(store()).pendingEvents(10)).toMatchObject([
      { kind: 'settle', job: 'build', receivedAt: 5000 },
    ]);
    expect((await scheduler(store()).loadSchedulerState()).pendingSettles).toEqual([]);
  });
});
