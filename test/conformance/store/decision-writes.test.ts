import { expect, it } from 'vitest';
import { outbox, reads, scheduler, sources } from '../ports.js';
import { advanceHead, eventFor, forEachStore, queueBuild, queued, sha, skip } from './fixtures.js';

// How the decision writer sends its statements (asked first, then every write without waiting:
// pipelined on PostgreSQL, one after the other on SQLite) must not show: what is stored and
// what the outbox says are the same on every backend.
forEachStore('decision writer: writes sent without waiting', (store) => {
  it('writes outbox payloads equal to the builds as read back (queued, skipped, superseded)', async () => {
    const [old] = await queued(store(), sha(1), [['fp1']]);
    const e = await eventFor(store(), sha(2));
    const applied = await scheduler(store()).applyDecisions(
      e,
      [queueBuild('fp2', e.version, { supersedes: [old!] }), skip('fp3', e.version, old!)],
      3000,
    );
    const rows = await outbox(store()).outboxSince(0, 10);
    expect(rows.map((r) => [r.type, r.buildId])).toEqual([
      ['queued', old],
      ['queued', applied.queued[0]!.id],
      ['superseded', old],
      ['skipped', applied.skipped[0]!.id],
    ]);
    for (const r of rows.slice(1)) {
      const stored = await reads(store()).getBuild(r.buildId);
      expect(stored, `${r.type} build ${r.buildId}`).toMatchObject(r.build);
    }
    expect(rows[2]!.build).toMatchObject({
      state: 'superseded',
      relatedBuild: applied.queued[0]!.id,
      reason: `superseded by build #${applied.queued[0]!.id}`,
      finishedAt: 3000,
    });
  });

  it('supersedes a build that two decisions of one event both name once, by the first', async () => {
    const [old] = await queued(store(), sha(1), [['fp1']]);
    const e = await eventFor(store(), sha(2));
    const applied = await scheduler(store()).applyDecisions(
      e,
      [
        queueBuild('fp2', e.version, { supersedes: [old!] }),
        queueBuild('fp3', e.version, {
          job: 'other',
          supersedes: [old!],
          concurrency: { group: 'other', limit: 1, supersede: true },
        }),
      ],
      3000,
    );
    expect(applied.superseded).toEqual([old]);
    expect(await reads(store()).getBuild(old!)).toMatchObject({
      state: 'superseded',
      relatedBuild: applied.queued[0]!.id,
    });
    const types = (await outbox(store()).outboxSince(0, 10)).map((r) => r.type);
    expect(types.filter((t) => t === 'superseded')).toHaveLength(1);
  });

  it('rolls the whole batch back when a write nobody awaited fails, and reports that failure', async () => {
    const [old] = await queued(store(), sha(1), [['fp1']]);
    const before = await outbox(store()).outboxSince(0, 10);
    const e1 = await eventFor(store(), sha(2));
    const e2 = await eventFor(store(), sha(3));
    // A build row without a job violates NOT NULL: the failure comes from the database, after
    // the writer returned (the id was reserved, the insert was only sent).
    const broken = queueBuild('fp9', e2.version, { job: null as unknown as string });
    await expect(
      scheduler(store()).batchDecisions(async (w) => {
        await w.applyDecisions(e1, [queueBuild('fp2', sha(2), { supersedes: [old!] })], 3000);
        await w.applyDecisions(e2, [broken], 3001);
      }),
    ).rejects.toThrow(/null|NOT NULL/i);
    expect((await scheduler(store()).pendingEvents(10)).map((e) => e.id)).toEqual([e1.id, e2.id]);
    expect((await reads(store()).getBuild(old!))?.state).toBe('queued');
    expect(await outbox(store()).outboxSince(0, 10)).toEqual(before);
    // The connection is fine afterwards: the same events decide and commit.
    const again = await scheduler(store()).applyDecisions(
      e1,
      [queueBuild('fp2', sha(2), { supersedes: [old!] })],
      4000,
    );
    expect(again.superseded).toEqual([old]);
  });

  it('writes one event whose decisions touch the same head and job twice: the last wins, in order', async () => {
    const e = await eventFor(store(), sha(2));
    // On PostgreSQL every row of an event goes out in one statement, which may upsert a key once.
    const applied = await scheduler(store()).applyDecisions(
      e,
      [
        advanceHead(sha(2)),
        advanceHead(sha(3)),
        queueBuild('fp2', sha(2), { definitionHash: 'def1' }),
        queueBuild('fp3', sha(3), { definitionHash: 'def2' }),
      ],
      3000,
    );
    expect(applied.heads.map((h) => h.version)).toEqual([sha(2), sha(3)]);
    expect(applied.heads[0]!.seq).toBeLessThan(applied.heads[1]!.seq);
    expect((await sources(store()).sourceHeads('app')).map((h) => h.version)).toEqual([sha(3)]);
    const [first, second] = applied.queued;
    expect(second!.id).toBeGreaterThan(first!.id);
    expect((await reads(store()).getBuild(second!.id))?.definitionHash).toBe('def2');
    const decided = await reads(store()).listDecisions({ eventId: e.id, limit: 10 });
    const inOrder = [...decided].sort((a, b) => a.id - b.id);
    expect(inOrder.map((d) => [d.rule, d.version, d.buildId ?? null])).toEqual([
      ['new-version', sha(2), null],
      ['new-version', sha(3), null],
      ['built', sha(2), first!.id],
      ['built', sha(3), second!.id],
    ]);
  });
});
