import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Forge } from '../../../src/core/change-request.js';
import type { GitSource, Pipeline } from '../../../src/core/pipeline.js';
import { FallbackPoller } from '../../../src/ingest/poll/fallback-poller.js';
import type { NewEvent } from '../../../src/store/ports.js';
import type { Store } from '../../../src/store/ports.js';
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.js';
import { git } from '../../../src/testing/git.js';

/**
 * The fallback poll finds change requests through each forge's REST API, served by a fake forge
 * on 127.0.0.1 that answers with the documented list shapes (GitHub "List pull requests", GitLab
 * "List project merge requests", Gitea "List a repo's pull requests").
 */
const H1 = 'a'.repeat(40);
const H2 = 'b'.repeat(40);

const LISTS: Record<
  Forge,
  { path: string; auth: [string, string]; body: (head: string) => unknown[] }
> = {
  github: {
    path: '/repos/team/app/pulls?state=open&per_page=100',
    auth: ['authorization', 'Bearer forge-token'],
    body: (head) => [
      {
        number: 7,
        title: 'Fix the parser',
        html_url: 'https://github.com/team/app/pull/7',
        user: { login: 'octo-stranger' },
        head: { ref: 'fix', sha: head, repo: { full_name: 'octo-stranger/app' } },
        base: { ref: 'main', sha: 'c'.repeat(40), repo: { full_name: 'team/app' } },
      },
      {
        number: 8,
        title: 'Into an unfollowed branch',
        user: { login: 'x' },
        head: { sha: 'd'.repeat(40), repo: { full_name: 'team/app' } },
        base: { ref: 'experimental', repo: { full_name: 'team/app' } },
      },
    ],
  },
  gitlab: {
    path: '/projects/team%2Fapp/merge_requests?state=opened&per_page=100',
    auth: ['private-token', 'forge-token'],
    body: (head) => [
      {
        iid: 7,
        title: 'Fix the parser',
        web_url: 'https://gitlab.example.com/team/app/-/merge_requests/7',
        author: { username: 'octo-stranger' },
        sha: head,
        target_branch: 'main',
        source_project_id: 2,
        target_project_id: 1,
      },
    ],
  },
  gitea: {
    path: '/repos/team/app/pulls?state=open&limit=50',
    auth: ['authorization', 'token forge-token'],
    body: (head) => [
      {
        number: 7,
        title: 'Fix the parser',
        html_url: 'https://gitea.example.com/team/app/pulls/7',
        user: { login: 'octo-stranger' },
        head: { ref: 'fix', sha: head, repo_id: 2 },
        base: { ref: 'main', repo_id: 1 },
      },
    ],
  },
};

describe.each(Object.keys(LISTS) as Forge[])('fallback poll of %s change requests', (forge) => {
  let dir: string;
  let store: Store;
  let server: Server;
  let base: string;
  let head = H1;
  let open = true;
  const seen: Array<{ url: string; headers: IncomingHttpHeaders }> = [];

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-request-poll-'));
    store = await openSqliteStore({ path: join(dir, 'db') });
    head = H1;
    open = true;
    seen.length = 0;
    server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(open ? LISTS[forge].body(head) : []));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    await new Promise<void>((r) => server.close(() => r()));
    await store.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('finds open requests, counts a missed one, and announces one closed meanwhile', async () => {
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
      changeRequests: {
        targets: ['main'],
        checkout: 'head',
        forge,
        api: { baseUrl: base, project: 'team/app', token: 'forge-token', allowPrivate: true },
      },
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
    const ingested: NewEvent[] = [];
    const poller = new FallbackPoller({
      store: store.sources,
      ingest: async (events) => {
        ingested.push(...events);
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
      },
      pipeline: () => pipeline,
      logger: pino({ level: 'silent' }),
      now: () => 1_000_000,
      random: () => 0.5,
      checkTimeoutMs: 5000,
      requests: store.requests,
    });

    // First check: main and pr/7 are new; knowing nothing before is not a missed event.
    expect(await poller.pollNow('app')).toMatchObject({ ok: true, newVersions: 2 });
    expect(seen[0]?.url).toBe(LISTS[forge].path);
    expect(seen[0]?.headers[LISTS[forge].auth[0]]).toBe(LISTS[forge].auth[1]);
    expect(ingested.filter((e) => e.kind === 'source' && e.ref === 'pr/7')).toEqual([
      expect.objectContaining({
        version: H1,
        origin: 'poll',
        request: { number: 7, target: 'main', closed: false },
      }),
    ]);
    expect(await store.requests.getRequest('app', 7)).toMatchObject({
      forge,
      title: 'Fix the parser',
      author: 'octo-stranger',
      fork: true,
      headSha: H1,
      state: 'open',
    });
    expect((await store.read.listSources())[0]?.missedEvents).toBe(0);

    // A push to the request whose webhook got lost: found, and counted as a missed event.
    head = H2;
    expect((await poller.pollNow('app')).newVersions).toBe(1);
    expect((await store.read.listSources())[0]?.missedEvents).toBe(1);

    // Closed meanwhile (no longer listed): announced closed, counted as missed too.
    open = false;
    await poller.pollNow('app');
    expect(ingested.at(-1)).toMatchObject({
      ref: 'pr/7',
      version: H2,
      request: { number: 7, target: 'main', closed: true },
    });
    expect((await store.requests.getRequest('app', 7))?.state).toBe('closed');
    expect((await store.read.listSources())[0]?.missedEvents).toBe(2);
    // Nothing changed since: nothing new.
    expect((await poller.pollNow('app')).newVersions).toBe(0);
  });
});
