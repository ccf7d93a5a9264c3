import { git } from '../../../src/testing/git.js';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcp, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
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
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  async function setup(source: SourceDef) {
    const pipeline = pipelineOf(source);
    await store.sources.syncSources([
      { name: source.name, kind: source.kind, url: 'url' in source ? source.url : null },
    ]);
    const ingest = async (events: readonly NewEvent[]) => {
      ingested.push(...events);
      // Apply as heads directly, the way the scheduler would, so the next poll sees them.
      for (const e of events) {
        if (e.kind !== 'source') continue;
        const appended = await store.inbox.appendEvent(e);
        const [ev] = await store.scheduler.pendingEvents(1);
        await store.scheduler.applyDecisions(
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
      store: store.sources,
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
    expect((await store.read.listSources())[0]).toMatchObject({
      missedEvents: 0,
      lastCheckOk: true,
      nextCheckAt: 1_060_000,
    });

    await writeFile(join(work, 'a'), '2');
    git(work, 'commit', '-qam', 'two');
    git(work, 'push', '-q', 'origin', 'HEAD:main');
    const again = await poller.pollNow('app');
    expect(again.newVersions).toBe(1);
    const [s] = await store.read.listSources();
    expect(s).toMatchObject({ missedEvents: 1 });
    // A missed event tightens the interval: half of 60 s (jitter neutral).
    expect(again.nextCheckAt).toBe(1_030_000);
    expect((await poller.pollNow('app')).newVersions).toBe(0);
    await poller.stop();
  });

  it('records failures with the error and backs off', async () => {
    const poller = await setup(gitSource(join(dir, 'does-not-exist.git')));
    const outcome = await poller.pollNow('app');
    expect(outcome.ok).toBe(false);
    expect(outcome.error).toMatch(/git ls-remote .* failed/);
    expect(outcome.nextCheckAt).toBe(1_120_000);
    const [s] = await store.read.listSources();
    expect(s).toMatchObject({ lastCheckOk: false, pollFailures: 1 });
    expect(s!.lastError).toMatch(/does-not-exist/);
    await poller.stop();
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
      allowPrivate: true, // the server is on 127.0.0.1
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
      await poller.stop();
    });

    it('refuses bodies over the size cap', async () => {
      body = 'x'.repeat(5000);
      const poller = await setup(httpSource());
      const outcome = await poller.pollNow('meta');
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toMatch(/over 1024 bytes/);
      await poller.stop();
    });

    it('refuses a source on 127.0.0.1 without allow_private, and shows why in the source list', async () => {
      let requests = 0;
      server.on('request', () => requests++);
      const poller = await setup({ ...httpSource(), allowPrivate: false });
      const outcome = await poller.pollNow('meta');
      expect(outcome.ok).toBe(false);
      expect(outcome.error).toBe(
        `GET ${url} failed: refused: 127.0.0.1 is loopback; allow with allow_private: true on source "meta"`,
      );
      expect(requests).toBe(0);
      const [s] = await store.read.listSources();
      expect(s).toMatchObject({ lastCheckOk: false, lastError: outcome.error });
      await poller.stop();
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
      allowPrivate: true,
    });
    await store.sources.syncSources([{ name: 'meta', kind: 'http', url: null }]);
    const poller = new FallbackPoller({
      store: store.sources,
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
    await poller.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it("bounds a git remote's ls-remote by the pipeline's network: limits, not a fixed 30 s", async () => {
    const sockets: Socket[] = [];
    const silent = createTcp((s) => sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const addr = silent.address();
    const port = typeof addr === 'object' && addr ? addr.port : 0;
    const url = `http://127.0.0.1:${port}/app.git`;
    const pipeline = {
      ...pipelineOf(gitSource(url)),
      network: { connectTimeoutMs: 500, stallTimeoutMs: 1_000 },
    };
    await store.sources.syncSources([{ name: 'app', kind: 'git', url }]);
    const poller = new FallbackPoller({
      store: store.sources,
      ingest: () => Promise.resolve(),
      pipeline: () => pipeline,
      logger,
    });
    const started = Date.now();
    const outcome = await poller.pollNow('app');
    expect(outcome.ok).toBe(false);
    // git's low-speed limit (the stall time) or connect + stall, whichever comes first.
    expect(outcome.error).toMatch(/timed out after 1500 ms|Operation too slow/);
    expect(Date.now() - started).toBeLessThan(5_000);
    await poller.stop();
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  describe('fallback_poll: off', () => {
    /** The source's stored status once its first check has been recorded (bounded wait). */
    async function afterFirstCheck() {
      for (let i = 0; i < 100; i++) {
        const [s] = await store.read.listSources();
        if (s?.lastCheckAt != null) return s;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('no check within 5 s');
    }

    it('is checked once at start, then never scheduled again', async () => {
      const bare = join(dir, 'app.git');
      git(dir, 'init', '-q', '--bare', bare);
      const work = join(dir, 'work');
      git(dir, 'clone', '-q', bare, work);
      git(work, 'commit', '-q', '--allow-empty', '-m', 'one');
      git(work, 'push', '-q', 'origin', 'HEAD:main');
      const poller = await setup(gitSource(bare, { fallbackPollMs: null }));
      await poller.start();
      const s = await afterFirstCheck();
      expect(s).toMatchObject({ lastCheckOk: true, nextCheckAt: null });
      expect(ingested).toHaveLength(1);
      await poller.resync(); // a reload that changes nothing checks nothing
      await new Promise((r) => setTimeout(r, 200));
      expect(ingested).toHaveLength(1);
      expect((await store.read.listSources())[0]?.lastCheckAt).toBe(s.lastCheckAt);
      await poller.stop();
    });

    it('retries a failed first check with backoff until one succeeds', async () => {
      const poller = await setup(gitSource(join(dir, 'not-yet.git'), { fallbackPollMs: null }));
      await poller.start();
      const s = await afterFirstCheck();
      // One failure: 30 s floor doubled, jitter neutral (random 0.5).
      expect(s).toMatchObject({ lastCheckOk: false, nextCheckAt: 1_060_000 });
      await poller.stop();
    });
  });

  it('refuses to poll sources that cannot be polled', async () => {
    const poller = await setup(gitSource('/x'));
    expect(poller.canPoll('nope')).toBe('missing');
    await expect(poller.pollNow('nope')).rejects.toThrow(/cannot be polled/);
    await poller.stop();
  });
});

describe('fallback poller: several sources on one repository', () => {
  let dir: string;
  let store: Store;
  let poller: FallbackPoller | undefined;
  const path = process.env['PATH'];
  afterEach(async () => {
    await poller?.stop();
    process.env['PATH'] = path;
    await store.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  /**
   * A bare repository with three branches, and a `git` on PATH that logs each question about a
   * repository's heads (`ls-remote`, or `upload-pack --advertise-refs` for a `file://` URL).
   */
  async function world() {
    dir = await mkdtemp(join(tmpdir(), 'nightless-poll-shared-'));
    store = await openSqliteStore({ path: join(dir, 'db') });
    const bare = join(dir, 'repo.git');
    const other = join(dir, 'other.git');
    const work = join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', bare);
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', other);
    git(dir, 'clone', '-q', bare, work);
    await writeFile(join(work, 'f'), '1');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'push', '-q', 'origin', 'HEAD:main', 'HEAD:release/1', 'HEAD:feature/x');
    git(work, 'push', '-q', other, 'HEAD:main');
    const sha = git(work, 'rev-parse', 'HEAD');
    const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
    const log = join(dir, 'head-queries.log');
    await mkdir(join(dir, 'bin'));
    await writeFile(
      join(dir, 'bin', 'git'),
      `#!/bin/sh\nfor a in "$@"; do case "$a" in ls-remote|upload-pack) echo "$*" >> '${log}';; esac; done\nexec '${realGit}' "$@"\n`,
      { mode: 0o755 },
    );
    process.env['PATH'] = `${join(dir, 'bin')}:${path ?? ''}`;
    // file:// URLs: a plain local path is read without git (`local-refs.ts`), and these tests
    // count git processes (one upload-pack each, `advertised-refs.ts`).
    const sources = [
      gitSource(`file://${bare}`, { name: 'a', branches: ['main'] }),
      gitSource(`file://${bare}`, { name: 'b', branches: ['release/*'] }),
      gitSource(`file://${bare}`, { name: 'c', branches: ['feature/*'] }),
      gitSource(`file://${other}`, { name: 'd', branches: ['main'] }),
    ];
    await store.sources.syncSources(
      sources.map((s) => ({ name: s.name, kind: 'git', url: s.url })),
    );
    const ingested: NewEvent[] = [];
    const reports: string[] = [];
    poller = new FallbackPoller({
      store: store.sources,
      ingest: (events) => {
        ingested.push(...events);
        return Promise.resolve();
      },
      pipeline: () => pipelineOf(...sources),
      logger: pino({ level: 'silent' }),
      now: () => 1_000_000,
      random: () => 0.5,
      checkTimeoutMs: 5000,
      onPoll: (r) => reports.push(r.source),
    });
    const headQueries = async () =>
      (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    return { poller, sha, ingested, reports, headQueries, bare, other };
  }

  it('answers every source on a repository with one git process, each with its own branches', async () => {
    const w = await world();
    const outcomes = await w.poller.pollAll();
    expect(outcomes.map((o) => [o.source, o.ok, o.newVersions]).sort()).toEqual([
      ['a', true, 1],
      ['b', true, 1],
      ['c', true, 1],
      ['d', true, 1],
    ]);
    const found = w.ingested.map((e) => (e.kind === 'source' ? `${e.source} ${e.ref}` : ''));
    expect(found.sort()).toEqual(['a main', 'b release/1', 'c feature/x', 'd main']);
    const calls = await w.headQueries();
    expect(calls).toHaveLength(2);
    expect(calls.filter((c) => c.endsWith(w.bare))).toHaveLength(1);
    expect(calls.filter((c) => c.endsWith(w.other))).toHaveLength(1);
  });

  it('a due source takes the others on its repository along, in the same git process', async () => {
    const w = await world();
    await w.poller.pollNow('b'); // b is now known and not due for a minute
    await w.poller.start(); // a, c and d were never seen: due now
    await vi.waitFor(() => expect(w.reports).toHaveLength(5), { timeout: 5000, interval: 20 });
    expect(w.reports.slice(1).sort()).toEqual(['a', 'b', 'c', 'd']);
    expect(await w.headQueries()).toHaveLength(3); // b alone, then the repository, then `other`
  });
});
