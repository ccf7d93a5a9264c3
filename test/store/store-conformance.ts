import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import type { BuildInput } from '../../src/core/build.js';
import type { Decision } from '../../src/core/scheduler/index.js';
import type { SourceEvent } from '../../src/core/event.js';
import type { RunResult } from '../../src/executor/port.js';
import type { NewEvent, Store } from '../../src/store/ports.js';

/**
 * The behaviour every store backend must show (CONVENTIONS §13). Each backend's test file calls
 * this with a factory that opens a fresh, empty store.
 */
export function storeConformance(
  name: string,
  open: () => Promise<{ store: Store; cleanup: () => Promise<void> }>,
) {
  describe(`store conformance: ${name}`, () => {
    let store: Store;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ store, cleanup } = await open());
      await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
    });
    afterEach(async () => {
      await store.close();
      await cleanup();
    });

    const push = (version: string, deliveryId: string | null = null, ref = 'main'): NewEvent => ({
      kind: 'source',
      source: 'app',
      version,
      ref,
      origin: 'webhook',
      deliveryId,
      changedPaths: ['src/a.ts'],
      producedBy: null,
      receivedAt: 1000,
    });
    const input = (version: string): BuildInput => ({
      source: 'app',
      version,
      origin: 'webhook',
      eventId: 1,
      ref: 'main',
    });
    const queue = (
      fingerprint: string,
      version: string,
      extra: Partial<Extract<Decision, { kind: 'queue-build' }>> = {},
    ): Decision => ({
      kind: 'queue-build',
      job: 'build',
      source: 'app',
      version,
      fingerprint,
      definitionHash: 'def1',
      inputs: [input(version)],
      cause: { kind: 'version', source: 'app', version, eventId: 1 },
      forced: false,
      supersedes: [],
      cancels: [],
      concurrency: { group: 'build@main', limit: 1 },
      rule: 'built',
      detail: 'build queued',
      ...extra,
    });
    const passed = (extra: Partial<RunResult> = {}): RunResult =>
      ({ state: 'passed', outputs: [], coverage: null, warnings: [], ...extra }) as RunResult;

    async function eventFor(version: string): Promise<SourceEvent> {
      await store.inbox.appendEvent(push(version));
      const [e] = await store.scheduler.pendingEvents(1);
      if (e?.kind !== 'source') throw new Error('expected a source event');
      return e;
    }

    it('keeps inbox events in order and dedupes redeliveries by delivery id', async () => {
      const a = await store.inbox.appendEvent(push('a'.repeat(40), 'github:1'));
      const b = await store.inbox.appendEvent(push('b'.repeat(40), 'github:2'));
      const again = await store.inbox.appendEvent(push('c'.repeat(40), 'github:1'));
      expect(again).toEqual({ id: a.id, redelivery: true });
      const pending = await store.scheduler.pendingEvents(10);
      expect(pending.map((e) => e.id)).toEqual([a.id, b.id]);
      expect(pending[0]).toMatchObject({
        kind: 'source',
        source: 'app',
        ref: 'main',
        changedPaths: ['src/a.ts'],
      });
    });

    it('applies decisions atomically: head, build, inputs, decision log, outbox, processed event', async () => {
      const e = await eventFor('1'.repeat(40));
      const applied = await store.scheduler.applyDecisions(
        e,
        [
          {
            kind: 'advance-head',
            source: 'app',
            version: e.version,
            ref: 'main',
            origin: 'webhook',
            producedBy: null,
            job: null,
            rule: 'new-version',
            detail: 'new head',
          },
          queue('fp1', e.version),
        ],
        2000,
      );
      expect(applied.queued).toHaveLength(1);
      expect(applied.heads[0]).toMatchObject({ source: 'app', version: e.version, ref: 'main' });
      expect(await store.scheduler.pendingEvents(10)).toEqual([]);
      const [build] = await store.read.listBuilds({ limit: 10 });
      expect(build).toMatchObject({
        job: 'build',
        state: 'queued',
        fingerprint: 'fp1',
        inputs: [{ source: 'app', version: e.version }],
      });
      const decisions = await store.read.listDecisions({ job: 'build', limit: 10 });
      expect(decisions[0]).toMatchObject({ rule: 'built', buildId: build!.id, origin: 'webhook' });
      const outbox = await store.outbox.outboxSince(0, 10);
      expect(outbox.map((o) => o.type)).toEqual(['queued']);
      const state = await store.scheduler.loadSchedulerState();
      expect(state.heads).toHaveLength(1);
      expect(state.activeBuilds.map((b) => b.fingerprint)).toEqual(['fp1']);
      const sources = await store.read.listSources();
      expect(sources[0]).toMatchObject({
        name: 'app',
        eventsReceived: 1,
        heads: [{ ref: 'main', version: e.version }],
      });
    });

    it('supersedes queued builds with a pointer to their replacement', async () => {
      const e1 = await eventFor('1'.repeat(40));
      const first = await store.scheduler.applyDecisions(e1, [queue('fp1', e1.version)], 2000);
      const e2 = await eventFor('2'.repeat(40));
      const id1 = first.queued[0]!.id;
      const second = await store.scheduler.applyDecisions(
        e2,
        [queue('fp2', e2.version, { supersedes: [id1] })],
        3000,
      );
      expect(second.superseded).toEqual([id1]);
      const old = await store.read.getBuild(id1);
      expect(old).toMatchObject({ state: 'superseded', relatedBuild: second.queued[0]!.id });
      const state = await store.scheduler.loadSchedulerState();
      expect(state.builtFingerprints.map((b) => b.fingerprint)).toEqual(['fp2']);
    });

    it('commits a batch of events together, or none of them', async () => {
      await store.inbox.appendEvent(push('1'.repeat(40)));
      await store.inbox.appendEvent(push('2'.repeat(40)));
      const [e1, e2] = (await store.scheduler.pendingEvents(2)) as [SourceEvent, SourceEvent];
      await expect(
        store.scheduler.batchDecisions(async (w) => {
          await w.applyDecisions(e1, [queue('fp1', e1.version)], 2000);
          throw new Error('disk full');
        }),
      ).rejects.toThrow('disk full');
      expect((await store.scheduler.pendingEvents(10)).map((e) => e.id)).toEqual([e1.id, e2.id]);
      expect(await store.read.listBuilds({ limit: 10 })).toEqual([]);
      expect(await store.outbox.outboxSince(0, 10)).toEqual([]);

      const ids = await store.scheduler.batchDecisions(async (w) => {
        const a = await w.applyDecisions(e1, [queue('fp1', e1.version)], 2000);
        const b = await w.applyDecisions(
          e2,
          [queue('fp2', e2.version, { supersedes: a.queued.map((q) => q.id) })],
          2001,
        );
        return [a.queued[0]!.id, b.queued[0]!.id];
      });
      expect(await store.scheduler.pendingEvents(10)).toEqual([]);
      const builds = await store.read.listBuilds({ limit: 10 });
      expect(builds.map((b) => [b.id, b.state]).sort()).toEqual([
        [ids[0], 'superseded'],
        [ids[1], 'queued'],
      ]);
      expect((await store.read.listSources())[0]).toMatchObject({ eventsReceived: 2 });
    });

    it('records skips as finished builds that point at the identical build', async () => {
      const e = await eventFor('1'.repeat(40));
      const { skipped } = await store.scheduler.applyDecisions(
        e,
        [
          {
            kind: 'record-skip',
            job: 'build',
            source: 'app',
            version: e.version,
            fingerprint: 'fp1',
            definitionHash: 'def1',
            inputs: [input(e.version)],
            cause: { kind: 'version', source: 'app', version: e.version, eventId: e.id },
            identicalTo: 7,
            reason: 'identical to build #7',
            group: 'build@main',
            supersedes: [],
            rule: 'same-fingerprint',
            detail: 'same',
          },
        ],
        2000,
      );
      const b = await store.read.getBuild(skipped[0]!.id);
      expect(b).toMatchObject({
        state: 'skipped',
        reason: 'identical to build #7',
        relatedBuild: 7,
      });
      expect((await store.scheduler.loadSchedulerState()).builtFingerprints).toEqual([]);
    });

    it('claims the oldest queued build once, and finishes it with outputs, coverage delta and output events', async () => {
      const e = await eventFor('1'.repeat(40));
      const two = { concurrency: { group: 'build@main', limit: 2 } };
      await store.scheduler.applyDecisions(
        e,
        [queue('fp1', e.version, two), queue('fp2', e.version, two)],
        2000,
      );
      const claimed = await store.queue.claimNextBuild('w1', 2500);
      const claimed2 = await store.queue.claimNextBuild('w2', 2500);
      expect(claimed?.id).toBeLessThan(claimed2!.id);
      expect(await store.queue.claimNextBuild('w3', 2500)).toBeNull();
      const digest = 'd'.repeat(64);
      const first = await store.queue.finishBuild(
        claimed!.id,
        {
          result: passed({
            coverage: { lines: 80, branches: 50 },
            outputs: [{ name: 'dist', digest, files: [{ path: 'dist/a.tgz', digest, size: 3 }] }],
          }),
          logBytes: 42,
          outputEvents: [
            {
              kind: 'source',
              source: 'build.dist',
              version: digest,
              ref: null,
              origin: 'output',
              deliveryId: null,
              changedPaths: null,
              producedBy: claimed!.id,
              receivedAt: 3000,
            },
          ],
        },
        3000,
      );
      expect(first).toMatchObject({
        state: 'passed',
        coverage: { lines: 80, branches: 50, linesDelta: null },
      });
      const second = await store.queue.finishBuild(
        claimed2!.id,
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
      const detail = await store.read.getBuild(claimed!.id);
      expect(detail).toMatchObject({ logBytes: 42, outputs: [{ name: 'dist', digest }] });
      expect(await store.queue.outputFiles('build.dist', digest)).toEqual([
        { path: 'dist/a.tgz', digest, size: 3 },
      ]);
      expect(await store.artifacts.referencedDigest(digest)).toBe(true);
      expect(await store.read.producedVersions(claimed!.id)).toEqual([
        { source: 'build.dist', version: digest },
      ]);
      const pending = await store.scheduler.pendingEvents(10);
      expect(pending).toMatchObject([
        { kind: 'source', source: 'build.dist', origin: 'output', producedBy: claimed!.id },
      ]);
      const types = (await store.outbox.outboxSince(0, 20)).map((o) => o.type);
      expect(types).toEqual(['queued', 'queued', 'started', 'started', 'finished', 'finished']);
    });

    it('claims past a concurrency group at its limit, and a group in queue order', async () => {
      const e = await eventFor('1'.repeat(40));
      const group = (g: string, limit = 1) => ({ concurrency: { group: g, limit } });
      await store.scheduler.applyDecisions(
        e,
        [
          queue('m1', e.version, group('build@main')),
          queue('m2', e.version, group('build@main')),
          queue('d1', e.version, group('build@dev')),
          queue('t1', e.version, group('test', 2)),
          queue('t2', e.version, group('test', 2)),
          queue('t3', e.version, group('test', 2)),
        ],
        2000,
      );
      const ids = (await store.read.listBuilds({ limit: 10 }))
        .map((b) => b.id)
        .sort((a, b) => a - b);
      const [m1, m2, d1, t1, t2, t3] = ids;
      const claim = async () => (await store.queue.claimNextBuild('w', 2100))?.id ?? null;
      // main at its limit (1): dev and two of test start; the third of test waits too.
      expect([await claim(), await claim(), await claim(), await claim()]).toEqual([
        m1,
        d1,
        t1,
        t2,
      ]);
      expect(await claim()).toBeNull();
      await store.queue.finishBuild(t2!, { result: passed(), logBytes: 0, outputEvents: [] }, 2200);
      expect(await claim()).toBe(t3);
      await store.queue.finishBuild(m1!, { result: passed(), logBytes: 0, outputEvents: [] }, 2300);
      expect(await claim()).toBe(m2);
      expect(await claim()).toBeNull();
    });

    it('does not re-queue a lost build when a newer build of its group is queued', async () => {
      const e = await eventFor('1'.repeat(40));
      await store.scheduler.applyDecisions(
        e,
        [queue('fp1', e.version), queue('fp2', e.version)],
        2000,
      );
      const running = await store.queue.claimNextBuild('w1', 2100);
      const other = await store.read.getBuild(running!.id + 1);
      expect(other?.state).toBe('queued');
      const { lost, requeued } = await store.queue.recoverLostBuilds(5000, 2);
      expect(lost).toMatchObject([{ id: running!.id, state: 'error', relatedBuild: other!.id }]);
      expect(requeued).toEqual([]);
      expect(await store.queue.claimNextBuild('w1', 5100)).toMatchObject({ id: other!.id });
    });

    it('marks builds left running as lost and re-queues each once', async () => {
      const e = await eventFor('1'.repeat(40));
      await store.scheduler.applyDecisions(e, [queue('fp1', e.version)], 2000);
      await store.queue.claimNextBuild('w1', 2100);
      const first = await store.queue.recoverLostBuilds(5000, 2);
      expect(first.lost[0]).toMatchObject({ state: 'error' });
      expect(first.lost[0]!.reason).toMatch(/^lost/);
      expect(first.requeued[0]).toMatchObject({
        state: 'queued',
        attempt: 2,
        cause: { kind: 'retry', previousBuild: first.lost[0]!.id },
      });
      await store.queue.claimNextBuild('w1', 5100);
      const second = await store.queue.recoverLostBuilds(6000, 2);
      expect(second.lost).toHaveLength(1);
      expect(second.requeued).toEqual([]);
    });

    it('puts a running build back in the queue (graceful shutdown), running builds only', async () => {
      const e = await eventFor('1'.repeat(40));
      await store.scheduler.applyDecisions(e, [queue('fp1', e.version)], 2000);
      const claimed = await store.queue.claimNextBuild('w1', 2100);
      const requeued = await store.queue.requeueBuild(claimed!.id, 2200);
      expect(requeued).toMatchObject({
        id: claimed!.id,
        state: 'queued',
        startedAt: null,
        attempt: 1,
      });
      expect(await store.queue.requeueBuild(claimed!.id, 2300)).toBeNull(); // not running any more
      expect((await store.outbox.outboxSince(0, 20)).map((o) => o.type)).toEqual([
        'queued',
        'started',
        'queued',
      ]);
      // It keeps its place: the next claim takes it again.
      expect(await store.queue.claimNextBuild('w2', 2400)).toMatchObject({ id: claimed!.id });
    });

    it('cancels queued builds only', async () => {
      const e = await eventFor('1'.repeat(40));
      const { queued } = await store.scheduler.applyDecisions(e, [queue('fp1', e.version)], 2000);
      const cancelled = await store.queue.cancelQueuedBuild(queued[0]!.id, 'cancelled by me', 2100);
      expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'cancelled by me' });
      expect(await store.queue.cancelQueuedBuild(9999, 'x', 1)).toBeNull();
    });

    it('filters and pages builds, finds versions by prefix', async () => {
      for (const v of ['ab1', 'ab2', 'cd3']) {
        const e = await eventFor(v.padEnd(40, '0'));
        await store.scheduler.applyDecisions(
          e,
          [
            {
              kind: 'advance-head',
              source: 'app',
              version: e.version,
              ref: 'main',
              origin: 'webhook',
              producedBy: null,
              job: null,
              rule: 'new-version',
              detail: '',
            },
            queue(`fp-${v}`, e.version),
          ],
          2000,
        );
      }
      const page1 = await store.read.listBuilds({ limit: 2 });
      const page2 = await store.read.listBuilds({ limit: 2, before: page1[1]!.id });
      expect([...page1, ...page2].map((b) => b.fingerprint)).toEqual([
        'fp-cd3',
        'fp-ab2',
        'fp-ab1',
      ]);
      expect(
        (await store.read.listBuilds({ source: 'app', version: 'ab', limit: 10 })).map(
          (b) => b.fingerprint,
        ),
      ).toEqual(['fp-ab2', 'fp-ab1']);
      expect(await store.read.listBuilds({ state: 'passed', limit: 10 })).toEqual([]);
      expect(await store.read.findVersions('app', 'ab', 10)).toEqual([
        'ab1'.padEnd(40, '0'),
        'ab2'.padEnd(40, '0'),
      ]);
      expect(await store.read.findVersions('app', '%', 10)).toEqual([]);
      expect(await store.read.countBuildsByState()).toEqual({ queued: 3 });
    });

    it('turns due quiet periods into settle events exactly once', async () => {
      const e = await eventFor('1'.repeat(40));
      await store.scheduler.applyDecisions(
        e,
        [
          {
            kind: 'defer',
            job: 'build',
            until: 5000,
            source: 'app',
            version: e.version,
            rule: 'deferred',
            detail: '',
          },
        ],
        2000,
      );
      expect(await store.scheduler.takeDueSettles(4999)).toEqual([]);
      expect(await store.scheduler.takeDueSettles(5000)).toEqual(['build']);
      expect(await store.scheduler.takeDueSettles(6000)).toEqual([]);
      expect(await store.scheduler.pendingEvents(10)).toMatchObject([
        { kind: 'settle', job: 'build' },
      ]);
    });

    it('stores poll results and settings', async () => {
      await store.sources.recordPoll('app', {
        at: 10,
        ok: false,
        error: 'timeout',
        nextCheckAt: 99,
        missed: false,
      });
      await store.sources.recordPoll('app', {
        at: 20,
        ok: true,
        error: null,
        nextCheckAt: 120,
        missed: true,
      });
      const [s] = await store.read.listSources();
      expect(s).toMatchObject({
        lastCheckAt: 20,
        lastCheckOk: true,
        lastError: null,
        nextCheckAt: 120,
        missedEvents: 1,
        pollFailures: 0,
      });
      await store.meta.set('k', 'v1');
      await store.meta.set('k', 'v2');
      expect(await store.meta.get('k')).toBe('v2');
      expect(await store.meta.get('missing')).toBeNull();
    });
  });
}
