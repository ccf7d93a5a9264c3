import { expect, it } from 'vitest';
import { outbox, queue, reads } from '../ports.js';
import { finished, forEachStore, queued, sha } from './fixtures.js';

forEachStore('outbox', (store) => {
  it('starts empty', async () => {
    expect(await reads(store()).lastOutboxId()).toBe(0);
    expect(await outbox(store()).outboxSince(0, 10)).toEqual([]);
  });

  it('gives lifecycle rows in commit order with increasing ids, after a cursor, at most `limit`', async () => {
    const [a, b] = await queued(store(), sha(1), [
      ['fp1'],
      ['fp2', { concurrency: { group: 'other', limit: 1, supersede: true } }],
    ]);
    await queue(store()).claimNextBuild('w', 2100);
    await queue(store()).finishBuild(a!, finished(), 2200);
    await queue(store()).cancelQueuedBuild(b!, 'no', 2300);
    const all = await outbox(store()).outboxSince(0, 100);
    expect(all.map((o) => [o.buildId, o.type])).toEqual([
      [a, 'queued'],
      [b, 'queued'],
      [a, 'started'],
      [a, 'finished'],
      [b, 'cancelled'],
    ]);
    for (let i = 1; i < all.length; i++) expect(all[i]!.id).toBeGreaterThan(all[i - 1]!.id);
    expect(await reads(store()).lastOutboxId()).toBe(all.at(-1)!.id);
    const after = await outbox(store()).outboxSince(all[1]!.id, 2);
    expect(after.map((o) => o.id)).toEqual([all[2]!.id, all[3]!.id]);
    expect(await outbox(store()).outboxSince(all.at(-1)!.id, 10)).toEqual([]);
  });

  it('carries the build as it was right after each change, not as it is now', async () => {
    const [a] = await queued(store(), sha(1), [['fp1']]);
    await queue(store()).claimNextBuild('w', 2100);
    await queue(store()).finishBuild(a!, finished(), 2200);
    const rows = await outbox(store()).outboxSince(0, 10);
    expect(rows.map((o) => [o.type, o.build.state, o.build.startedAt, o.createdAt])).toEqual([
      ['queued', 'queued', null, 2000],
      ['started', 'running', 2100, 2100],
      ['finished', 'passed', 2100, 2200],
    ]);
    expect(rows[0]!.build).toMatchObject({
      id: a,
      job: 'build',
      fingerprint: 'fp1',
      inputs: [{ source: 'app', version: sha(1) }],
    });
  });
});
