import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GitSource, Pipeline } from '../../../src/core/pipeline.js';
import { FallbackPoller } from '../../../src/ingest/poll/fallback-poller.js';
import type { NewEvent, Store } from '../../../src/store/ports.js';
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.js';
import { git } from '../../../src/testing/git.js';

describe('a version found by the fallback poll', () => {
  let dir: string;
  let store: Store;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-poll-at-'));
    store = await openSqliteStore({ path: join(dir, 'db') });
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('is received when the check answered, not when the check started', async () => {
    const bare = join(dir, 'app.git');
    const work = join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
    git(dir, 'clone', '-q', bare, work);
    await writeFile(join(work, 'a'), '1');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'push', '-q', 'origin', 'HEAD:main');
    const source: GitSource = {
      kind: 'git',
      name: 'app',
      url: bare,
      branches: ['main'],
      webhookSecret: null,
      fallbackPollMs: 60_000,
      quietPeriodMs: null,
    };
    const pipeline: Pipeline = {
      name: 't',
      sources: new Map([['app', source]]),
      jobs: new Map(),
      reports: [],
      consumers: new Map(),
      order: [],
      secretValues: [],
    };
    await store.sources.syncSources([{ name: 'app', kind: 'git', url: bare }]);
    // A clock that moves on every reading: the check's start and the moment it found the
    // version read different times.
    const readings: number[] = [];
    const now = (): number => {
      readings.push(1_000_000 + readings.length * 1_000);
      return readings.at(-1) as number;
    };
    let lastReadingAtIngest = -1;
    const ingested: NewEvent[] = [];
    const poller = new FallbackPoller({
      store: store.sources,
      ingest: (events) => {
        lastReadingAtIngest = readings.at(-1) as number;
        ingested.push(...events);
        return Promise.resolve();
      },
      pipeline: () => pipeline,
      logger: pino({ level: 'silent' }),
      now,
      random: () => 0.5,
      checkTimeoutMs: 5000,
    });

    expect((await poller.pollNow('app')).newVersions).toBe(1);
    const [event] = ingested;
    // The time since the event is stored is the event's own: the check's `ls-remote` is not in it.
    expect(event?.receivedAt).toBe(lastReadingAtIngest);
    expect(event?.receivedAt).toBeGreaterThan(readings[0] as number);
    await poller.stop();
  });
});
