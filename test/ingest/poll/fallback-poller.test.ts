import { git } from '../../../src/testing/git.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GitSource, HttpSource, Pipeline, SourceDef } from '../../../src/core/pipeline.js';
import { FallbackPoller } from '../../../src/ingest/poll/fallback-poller.js';
import type { NewEvent, Store } from '../../../src/store/ports.js';
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.js';

function pipelineOf(...sources: SourceDef[]): Pipeline {
  return {
    name: 't',
    sources: new Map(sources.map((s) => [s.name, s])),
    jobs: new Map(),
    reports: [],
    consumers: new Map(),
    order: [],
    secretValues: [],
  };
}

function gitSource(url: string, extra: Partial<GitSource> = {}): GitSource {
  return {
    kind: 'git',
    name: 'app',
    url,
    branches: ['main', 'release/*'],
    webhookSecret: null,
    fallbackPollMs: 60_000,
    quietPeriodMs: null,
    ...extra,
  };
}

describe('fallback poller', () => {
  let dir: string;
  let store: Store;
  let ingested: NewEvent[];
  const logger = pino({ level: 'silent' });

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-poll-'));
    store = await openSqliteStore({ path: join(dir, 'db') });
    ingested = [];
  });
  afterEach(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(source: SourceDef) {
    const pipeline = pipelineOf(source);
    await store.syncSources([
      { name: source.name, kind: source.kind, url: 'url' in source ? source.url : null },
    ]);
    const ingest = async (events: readonly NewEvent[]) => {
      ingested.push(...events);
      // Apply as heads directly, the way the scheduler would, so the next poll sees them.
      for (const e of events) {
        if (e.kind !== 'source') continue;
        const appended = await store.appendEvent(e);
        const [ev] = await store.pendingEvents(1);
        await store.applyDecisions(
          ev!,
          [
            {
              kind: 'advance-head',
              source: e.source,
              version: e.version,
              ref: e.ref,
              origin: e.origin,
              producedBy: null,
              job: null,
              rule: 'new-version',
              detail: '',
            },
          ],
          appended.id,
        );
      }
    };
    return new FallbackPoller({
      store,
      ingest,
      pipeline: () => pipeline,
      logger,
      now: () => 1_000_000,
      random: () => 0.5,
      checkTimeoutMs: 5000,
    });
  }

  it('finds branch heads of a bare repository with git ls-remote, and counts what no event announced', async () => {
    const bare = join(dir, 'app.git');
    const work = join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
    git(dir, 'clone', '-q', bare, work);
    await writeFile(join(work, 'a'), '1');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'push', '-q', 'origin', 'HEAD:main', 'HEAD:release/1', 'HEAD:feature/x');
    const first = git(work, 'rev-parse', 'HEAD');

    const poller = await setup(gitSource(bare));
    const outcome = await poller.pollNow('app');
    expect(outcome).toMatchObject({ ok: true, newVersions: 2, error: null });
    expect(ingested.map((e) => e.kind === 'source' && [e.ref, e.version, e.origin]).sort()).toEqual(
      [
        ['main', first, 'poll'],
        ['release/1', first, 'poll'],
      ],
    );
    // Knowing nothing before is a starting point, not a missed event.
    expect((await store.listSources())[0]).toMatchObject({
      missedEvents: 0,
      lastCheckOk: true,
      nextCheckAt: 1_060_000,
    });

    await writeFile(join(work, 'a'), '2');
    git(work, 'commit', '-qam', 'two');
    git(work, 'push', '-q', 'origin', 'HEAD:main');
    const again = await poller.pollNow('app');
    expect(again.newVersions).toBe(1);
    const [s] = await store.listSources();
    expect(s).toMatchObject({ missedEvents: 1 });
    // A missed event tightens the interval: half of 60 s (jitter neutral).
    expect(again.nextCheckAt).toBe(1_030_000);
    expect((await poller.pollNow('app')).newVersions).toBe(0);
    poller.stop();
  });

  it('records failures with the error and backs off', async () => {
    const poller = await setup(gitSource(join(dir, 'does-not-exist.git')));
    const outcome = await poller.pollNow('app');
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/git ls-remote .* failed/);
    expect(outcome.nextCheckAt).toBe(1_120_000);
    const [s] = await store.listSources();
    expect(s).toMatchObject({ lastCheckOk: false, pollFailures: 1 });
    expect(s!.lastError).toMatch(/does-not-exist/);
    poller.stop();
  });

  describe('http sources', () => {
    let server: Server;
    let body = 'v1';
    let etag: string | null = null;
    let url = '';
    beforeEach(async () => {
      body = 'v1';
      etag = null;
      server = createServer((req, res) => {
        if (etag && req.headers['if-none-match'] === etag) return res.writeHead(304).end();
        res.writeHead(200, etag ? { etag } : {}).end(body);
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const addr = server.address();
      url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/repodata.xml`;
    });
    afterEach(() => new Promise<void>((r) => server.close(() => r())));

    const httpSource = (): HttpSource => ({
      kind: 'http',
      name: 'meta',
      url,
      headers: {},
      webhookSecret: null,
      fallbackPollMs: 60_000,
      quietPeriodMs: null,
      maxBytes: 1024,
    });

    it('versions a body by sha256 without an ETag, and by the ETag with one (conditional GET)', async () => {
      const poller = await setup(httpSource());
      expect((await poller.pollNow('meta')).newVersions).toBe(1);
      expect(ingested[0]).toMatchObject({
        source: 'meta',
        version: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      });
      expect((await poller.pollNow('meta')).newVersions).toBe(0);
      etag = '"abc"';
      expect((await poller.pollNow('meta')).newVersions).toBe(1);
      expect(ingested[1]).toMatchObject({ version: '"abc"' });
      expect((await poller.pollNow('meta')).newVersions).toBe(0);
      poller.stop();
    });

    it('refuses bodies over the size cap', async () => {
      body = 'x'.repeat(5000);
      const poller = await setup(httpSource());
      const outcome = await poller.pollNow('meta');
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatch(/over 1024 bytes/);
      poller.stop();
    });
  });

  it('gives up on a peer that accepts and never answers within the check timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createTcp((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const pipeline = pipelineOf({
      kind: 'http',
      name: 'meta',
      url: `http://127.0.0.1:${port}/x`,
      headers: {},
      webhookSecret: null,
      fallbackPollMs: 60_000,
      quietPeriodMs: null,
      maxBytes: 10,
    });
    await store.syncSources([{ name: 'meta', kind: 'http', url: null }]);
    const poller = new FallbackPoller({
      store,
      ingest: () => Promise.resolve(),
      pipeline: () => pipeline,
      logger,
      checkTimeoutMs: 400,
    });
    const started = Date.now();
    const outcome = await poller.pollNow('meta');
    expect(outcome.ok).toBe(false);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(outcome.error).toMatch(/timed out after 400 ms/);
    poller.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('refuses to poll sources that cannot be polled', async () => {
    const poller = await setup(gitSource('/x'));
    expect(poller.canPoll('nope')).toBe('missing');
    await expect(poller.pollNow('nope')).rejects.toThrow(/cannot be polled/);
    poller.stop();
  });
});
