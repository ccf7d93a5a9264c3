import { expect, it } from 'vitest';
import { inbox, queue, reads, scheduler } from '../ports.js';
import {
  advanceHead,
  eventFor,
  finished,
  forEachStore,
  outputEvent,
  passed,
  push,
  queueBuild,
  queued,
  sha,
} from './fixtures.js';

forEachStore('read model', (store) => {
  async function headAndBuild(v: string, fp: string): Promise<number> {
    const e = await eventFor(store(), v);
    const a = await scheduler(store()).applyDecisions(
      e,
      [advanceHead(e.version), queueBuild(fp, e.version)],
      2000,
    );
    return a.queued[0]!.id;
  }

  it('lists builds newest first, filters by job, state, source and version prefix, pages by id', async () => {
    for (const v of ['ab1', 'ab2', 'cd3']) await headAndBuild(sha(v), `fp-${v}`);
    const page1 = await reads(store()).listBuilds({ limit: 2 });
    const page2 = await reads(store()).listBuilds({ limit: 2, before: page1[1]!.id });
    expect([...page1, ...page2].map((b) => b.fingerprint)).toEqual(['fp-cd3', 'fp-ab2', 'fp-ab1']);
    const byVersion = await reads(store()).listBuilds({ source: 'app', version: 'ab', limit: 10 });
    expect(byVersion.map((b) => b.fingerprint)).toEqual(['fp-ab2', 'fp-ab1']);
    expect(await reads(store()).listBuilds({ state: 'passed', limit: 10 })).toEqual([]);
    expect(await reads(store()).listBuilds({ job: 'lint', limit: 10 })).toEqual([]);
    expect(await reads(store()).findVersions('app', 'ab', 10)).toEqual([sha('ab1'), sha('ab2')]);
    // A prefix is text, never a pattern.
    expect(await reads(store()).findVersions('app', '%', 10)).toEqual([]);
    expect(await reads(store()).findVersions('app', '_b', 10)).toEqual([]);
    expect(await reads(store()).countBuildsByState()).toEqual({ queued: 3 });
  });

  it('shows an inbox event as stored, and once decided its outcome', async () => {
    const { id } = await inbox(store()).appendEvent(push('x', 'github:9'));
    expect(await reads(store()).getEvent(id)).toMatchObject({
      id,
      kind: 'source',
      source: 'app',
      version: 'x',
      deliveryId: 'github:9',
      processedAt: null,
      outcome: null,
      changedPaths: ['src/a.ts'],
    });
    const [e] = await scheduler(store()).pendingEvents(1);
    if (e?.kind !== 'source') throw new Error('expected the push');
    await scheduler(store()).applyDecisions(
      { ...e, ancestry: { relation: 'descendant', head: sha(0) } },
      [advanceHead('x'), queueBuild('fp', 'x')],
      2500,
    );
    expect(await reads(store()).getEvent(id)).toMatchObject({
      processedAt: 2500,
      outcome: 'built',
      ancestry: { relation: 'descendant', head: sha(0) },
    });
    expect(await reads(store()).getEvent(id + 100)).toBeNull();
  });

  it('lists decisions newest first, by job (with its sources), event, source and version', async () => {
    const id = await headAndBuild(sha(1), 'fp1');
    const all = await reads(store()).listDecisions({ limit: 10 });
    expect(all.map((d) => d.rule)).toEqual(['built', 'new-version']);
    expect(all[0]).toMatchObject({ job: 'build', buildId: id, origin: 'webhook', at: 2000 });
    const job = await reads(store()).listDecisions({ job: 'build', limit: 10 });
    expect(job.map((d) => d.rule)).toEqual(['built']);
    const withSources = await reads(store()).listDecisions({
      job: 'build',
      withSourcesOf: ['app'],
      limit: 10,
    });
    expect(withSources.map((d) => d.rule)).toEqual(['built', 'new-version']);
    expect(
      await reads(store()).listDecisions({ source: 'app', version: sha(1).slice(0, 7), limit: 1 }),
    ).toHaveLength(1);
    expect(
      await reads(store()).listDecisions({ eventId: all[0]!.eventId!, limit: 10 }),
    ).toHaveLength(2);
    expect(await reads(store()).listDecisions({ eventId: 999, limit: 10 })).toEqual([]);
  });

  it('traces versions: the ref a version was seen on, builds using it, outputs and their first producer', async () => {
    expect(await reads(store()).versionRef('app', sha(1))).toBeUndefined();
    const a = await headAndBuild(sha(1), 'fp1');
    expect(await reads(store()).versionRef('app', sha(1))).toBe('main');
    expect((await reads(store()).buildsUsing('app', sha(1))).map((b) => b.id)).toEqual([a]);
    expect(await reads(store()).buildsUsing('app', sha(2))).toEqual([]);
    const [b] = await queued(store(), sha(1), [
      ['fp1-forced', { forced: true, concurrency: { group: 'x', limit: 1, supersede: true } }],
    ]);
    const digest = 'e'.repeat(64);
    for (const id of [a, b!]) {
      await queue(store()).claimNextBuild('w', 2100);
      await queue(store()).finishBuild(
        id,
        {
          result: passed({
            outputs: [
              {
                name: 'dist',
                digest,
                files: [{ path: 'dist/x.tgz', digest: 'f'.repeat(64), size: 9 }],
              },
            ],
          }),
          logBytes: 0,
          outputEvents: [outputEvent('build.dist', digest, id)],
        },
        3000,
      );
    }
    expect(await reads(store()).firstProducer('build.dist', digest)).toBe(a);
    expect(await reads(store()).firstProducer('build.dist', 'nope')).toBeNull();
    expect(await reads(store()).firstProducer('app', digest)).toBeNull();
    expect(await reads(store()).producedVersions(b!)).toEqual([
      { source: 'build.dist', version: digest },
    ]);
    expect(await reads(store()).artifact(a, 'dist')).toEqual([
      { path: 'dist/x.tgz', digest: 'f'.repeat(64), size: 9 },
    ]);
    expect(await reads(store()).artifact(a, 'other')).toEqual([]);
  });

  it("gives each job's latest build, last finished build and recent durations", async () => {
    const [a, b] = await queued(store(), sha(1), [
      ['fp1', { concurrency: { group: 'a', limit: 1, supersede: true } }],
      ['fp2', { concurrency: { group: 'b', limit: 1, supersede: true } }],
    ]);
    await queue(store()).claimNextBuild('w', 2000);
    await queue(store()).finishBuild(a!, finished(), 2600);
    await queue(store()).claimNextBuild('w', 3000);
    const [build, lint] = await reads(store()).jobStatuses(['build', 'lint']);
    expect(build).toMatchObject({
      name: 'build',
      latest: { id: b, state: 'running' },
      lastFinished: { id: a, state: 'passed' },
      recentDurationsMs: [600],
    });
    expect(lint).toEqual({ name: 'lint', latest: null, lastFinished: null, recentDurationsMs: [] });
    expect(await reads(store()).countBuildsByState()).toEqual({ passed: 1, running: 1 });
  });
});
