import { expect, it } from 'vitest';
import { inbox, meta, reads, scheduler, sources } from '../ports.js';
import { advanceHead, forEachStore, push, sha } from './fixtures.js';

forEachStore('sources', (store) => {
  it('syncs the pipeline sources idempotently, updating kind and url, keeping removed ones', async () => {
    await sources(store()).syncSources([
      { name: 'app', kind: 'git', url: '/srv/moved.git' },
      { name: 'feed', kind: 'http', url: 'http://127.0.0.1/feed' },
    ]);
    await sources(store()).syncSources([
      { name: 'app', kind: 'git', url: '/srv/moved.git' },
      { name: 'feed', kind: 'http', url: 'http://127.0.0.1/feed' },
    ]);
    await sources(store()).syncSources([{ name: 'feed', kind: 'http', url: null }]);
    const listed = await reads(store()).listSources();
    expect(listed.map((s) => [s.name, s.kind, s.url])).toEqual([
      ['app', 'git', '/srv/moved.git'],
      ['feed', 'http', null],
    ]);
    expect(listed[1]).toMatchObject({
      heads: [],
      nextCheckAt: null,
      lastCheckAt: null,
      lastCheckOk: null,
      pollFailures: 0,
      missedEvents: 0,
      eventsReceived: 0,
      lastEventAt: null,
    });
  });

  it('counts consecutive poll failures, resets them on success, and counts missed events', async () => {
    const poll = (at: number, ok: boolean, missed = false) =>
      sources(store()).recordPoll('app', {
        at,
        ok,
        error: ok ? null : 'connect timeout after 3s',
        nextCheckAt: at + 100,
        missed,
      });
    await poll(10, false);
    await poll(20, false);
    expect((await reads(store()).listSources())[0]).toMatchObject({
      lastCheckAt: 20,
      lastCheckOk: false,
      lastError: 'connect timeout after 3s',
      nextCheckAt: 120,
      pollFailures: 2,
    });
    await poll(30, true, true);
    await poll(40, true, true);
    expect((await reads(store()).listSources())[0]).toMatchObject({
      lastCheckAt: 40,
      lastCheckOk: true,
      lastError: null,
      nextCheckAt: 140,
      missedEvents: 2,
      pollFailures: 0,
    });
  });

  it('stores the next check time, and clears it', async () => {
    await sources(store()).setNextCheck('app', 12345);
    expect((await reads(store()).listSources())[0]?.nextCheckAt).toBe(12345);
    await sources(store()).setNextCheck('app', null);
    expect((await reads(store()).listSources())[0]?.nextCheckAt).toBeNull();
  });

  it('gives the current head of every ref of a source', async () => {
    for (const [v, ref] of [
      [sha(1), 'main'],
      [sha(2), 'dev'],
      [sha(3), 'main'],
    ] as const) {
      const { id } = await inbox(store()).appendEvent(push(v, null, ref));
      const e = (await scheduler(store()).pendingEvents(10)).find((p) => p.id === id)!;
      await scheduler(store()).applyDecisions(e, [advanceHead(v, ref)], 2000);
    }
    const heads = await sources(store()).sourceHeads('app');
    expect(heads.map((h) => `${h.ref}=${h.version}`).sort()).toEqual([
      `dev=${sha(2)}`,
      `main=${sha(3)}`,
    ]);
    expect(await sources(store()).sourceHeads('feed')).toEqual([]);
  });

  it('keeps key/value settings, the last write winning', async () => {
    await meta(store()).set('k', 'v1');
    await meta(store()).set('k', 'v2');
    expect(await meta(store()).get('k')).toBe('v2');
    expect(await meta(store()).get('missing')).toBeNull();
  });
});
