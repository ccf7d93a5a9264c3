import { createHmac } from 'node:crypto';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { installHook } from '../../src/ingest/git-hooks/install-hook.js';
import { git } from '../../src/testing/git.js';
import { runCli } from '../cli/helpers/spawn-cli.js';

/**
 * Asking the git mirror before deciding, through a real server (`startNightless`: HTTP, SQLite,
 * the real git mirrors), real repositories, the real git hook and the real `nightless` binary:
 * out-of-order deliveries never move a head back (issue 11.7), path filters work for hook
 * pushes (12.3), and `why` / `GET /api/events/:id` show the source-level decisions (12.4).
 */
let root: string;
let nl: Nightless;
let token: string;
const ZERO = '0'.repeat(40);

/** A bare repository and a working clone pushing to it. */
function repo(name: string): { bare: string; work: string } {
  const bare = join(root, `${name}.git`);
  const work = join(root, `${name}-work`);
  git(root, 'init', '-q', '--bare', '--initial-branch=main', bare);
  git(root, 'clone', '-q', bare, work);
  git(work, 'checkout', '-q', '-B', 'main');
  return { bare, work };
}

async function commit(work: string, file: string, text: string): Promise<string> {
  await mkdir(join(work, file, '..'), { recursive: true });
  await writeFile(join(work, file), text);
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', `${file}: ${text}`);
  return git(work, 'rev-parse', 'HEAD');
}

let app: { bare: string; work: string };
let lib: { bare: string; work: string };
let gen: { bare: string; work: string };
const SECRET = 'generic-secret-for-tests';

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-ordering-'));
  app = repo('app');
  lib = repo('lib');
  gen = repo('gen');
  await commit(app.work, 'README.md', 'hello');
  await commit(app.work, 'src/a.txt', '1');
  git(app.work, 'push', '-q', 'origin', 'main');
  await writeFile(
    join(root, 'nightless.yaml'),
    `version: 1
pipeline: ordering
sources:
  app:
    git: ${JSON.stringify(app.bare)}
    branch: main
    fallback_poll: off
  lib:
    git: ${JSON.stringify(lib.bare)}
    branch: main
    fallback_poll: off
  gen:
    git: ${JSON.stringify(gen.bare)}
    branch: main
    fallback_poll: off
    webhook_secret: ${SECRET}
jobs:
  code:
    inputs: [app]
    paths: ['src/**']
    steps: [{ run: 'true' }]
  libtest:
    inputs: [lib]
    steps: [{ run: 'true' }]
  gencode:
    inputs: [gen]
    paths: ['src/**']
    steps: [{ run: 'true' }]
`,
  );
  nl = await startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port: 0,
    slots: 0, // builds stay queued: only what was decided matters here
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
  token = nl.token.generated ?? '';
  expect(token).not.toBe('');
}, 60_000);

afterAll(async () => {
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${nl.url}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    signal: AbortSignal.timeout(20_000),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** What the installed hook sends for one ref update, sent by hand to control the order. */
async function deliver(repoPath: string, old: string, sha: string): Promise<number> {
  const r = await api<{ events: number[] }>('/hooks/git', {
    method: 'POST',
    body: JSON.stringify({ repo: repoPath, updates: [{ old, new: sha, ref: 'refs/heads/main' }] }),
  });
  expect(r.status).toBe(202);
  await nl.engine.decided();
  const id = r.body.events[0];
  if (id === undefined) throw new Error('no event accepted');
  return id;
}

interface BuildRow {
  id: number;
  job: string;
  state: string;
  reason: string | null;
  inputs: Array<{ source: string; version: string }>;
}
const builds = async (job: string): Promise<BuildRow[]> =>
  (await api<{ builds: BuildRow[] }>(`/api/builds?job=${job}`)).body.builds;
const head = async (source: string) =>
  (await nl.store.sources.sourceHeads(source)).find((h) => h.ref === 'main')?.version;

interface EventBody {
  event: { outcome: string; ancestry: { relation: string; head: string } | null };
  decisions: Array<{ rule: string; detail: string }>;
}

describe('the head never moves backwards (real server, real mirror)', () => {
  let f: string;
  let g: string;
  let h: string;
  let x: string;

  it('decides an older commit delivered after its descendant as `ancestor`: no build, head stays', async () => {
    f = await commit(lib.work, 'f.txt', 'f');
    git(lib.work, 'push', '-q', 'origin', 'main');
    await deliver(lib.bare, ZERO, f);
    g = await commit(lib.work, 'g.txt', 'g');
    h = await commit(lib.work, 'h.txt', 'h');
    git(lib.work, 'push', '-q', 'origin', 'main');

    await deliver(lib.bare, g, h); // H's push arrives first...
    const late = await deliver(lib.bare, f, g); // ...then G's

    expect(await head('lib')).toBe(h);
    const versions = (await builds('libtest')).map((b) => b.inputs[0]?.version);
    expect(versions).toContain(h);
    expect(versions).not.toContain(g);
    const ev = await api<EventBody>(`/api/events/${late}`);
    expect(ev.status).toBe(200);
    expect(ev.body.event).toMatchObject({
      outcome: 'ancestor',
      ancestry: { relation: 'ancestor', head: h },
    });
    expect(ev.body.decisions.map((d) => d.rule)).toEqual(['ancestor']);
    expect(ev.body.decisions[0]?.detail).toContain(
      `is an ancestor of the head lib@${h.slice(0, 10)} of main (hook event arrived late)`,
    );
  });

  it('still follows a force push (not a descendant): the head moves and it builds', async () => {
    git(lib.work, 'reset', '-q', '--hard', g);
    x = await commit(lib.work, 'x.txt', 'rewritten');
    git(lib.work, 'push', '-q', '--force', 'origin', 'main');
    const id = await deliver(lib.bare, h, x);

    expect(await head('lib')).toBe(x);
    expect((await builds('libtest')).some((b) => b.inputs[0]?.version === x)).toBe(true);
    const ev = await api<EventBody>(`/api/events/${id}`);
    expect(ev.body.event.ancestry).toEqual({ relation: 'unrelated', head: h });
    // Newest first.
    expect(ev.body.decisions.map((d) => d.rule)).toEqual(['built', 'new-version']);
    expect(ev.body.decisions[1]?.detail).toContain(
      `force push: not a descendant of lib@${h.slice(0, 10)}`,
    );
  });

  it('a poll that finds an older commit than the head (it raced a push) does not move it', async () => {
    // The repository still answering with G (the poll's ls-remote ran before the push landed).
    git(lib.bare, 'update-ref', 'refs/heads/main', g);
    const r = await api<{ poll: { ok: boolean; newVersions: number } }>('/api/sources/lib/poll', {
      method: 'POST',
    });
    expect(r.body.poll).toMatchObject({ ok: true, newVersions: 1 });
    await nl.engine.decided();
    expect(await head('lib')).toBe(x);
    const why = await api<{ decisions: Array<{ rule: string; version: string; origin: string }> }>(
      `/api/why?source=lib&version=${g}`,
    );
    expect(why.body.decisions[0]).toMatchObject({ rule: 'ancestor', version: g, origin: 'poll' });
    // Polled again in the same state: already told, not another event or missed event.
    const missedBefore = (await nl.store.read.listSources()).find(
      (s) => s.name === 'lib',
    )?.missedEvents;
    const again = await api<{ poll: { ok: boolean; newVersions: number } }>(
      '/api/sources/lib/poll',
      { method: 'POST' },
    );
    expect(again.body.poll).toMatchObject({ ok: true, newVersions: 0 });
    expect((await nl.store.read.listSources()).find((s) => s.name === 'lib')?.missedEvents).toBe(
      missedBefore,
    );
    git(lib.bare, 'update-ref', 'refs/heads/main', x);
  });

  it('decides two deliveries written in one batch against the head the first one left', async () => {
    // Both events reach the scheduler together: the second's question is asked after the first
    // moved the head (the slice ends there), not against the head before the batch.
    const j = await commit(lib.work, 'j.txt', 'j');
    const k = await commit(lib.work, 'k.txt', 'k');
    git(lib.work, 'push', '-q', 'origin', 'main');
    const r = await api<{ events: number[] }>('/hooks/git', {
      method: 'POST',
      body: JSON.stringify({
        repo: lib.bare,
        updates: [
          { old: j, new: k, ref: 'refs/heads/main' },
          { old: x, new: j, ref: 'refs/heads/main' },
        ],
      }),
    });
    expect(r.status).toBe(202);
    await nl.engine.decided();
    expect(await head('lib')).toBe(k);
    const late = await api<EventBody>(`/api/events/${r.body.events[1]}`);
    expect(late.body.event).toMatchObject({
      outcome: 'ancestor',
      ancestry: { relation: 'ancestor', head: k },
    });
    expect((await builds('libtest')).some((b) => b.inputs[0]?.version === j)).toBe(false);
    x = k; // the head the next tests start from
  });

  it('`nightless why SOURCE` and `why JOB` (the real binary) name the rules', async () => {
    const env = { NIGHTLESS_SERVER: nl.url };
    const bySource = await runCli(['why', 'lib'], { env });
    expect(bySource.stderr).toBe('');
    expect(bySource.code).toBe(0);
    expect(bySource.stdout).toMatch(
      new RegExp(`ancestor\\s+lib@${g.slice(0, 10)}\\s+lib@${g.slice(0, 10)} is an ancestor`),
    );
    expect(bySource.stdout).toMatch(/new-version .*force push: not a descendant/);
    // The job's own view has the source-level decisions about its input too.
    const byJob = await runCli(['why', 'libtest'], { env });
    expect(byJob.code).toBe(0);
    expect(byJob.stdout).toMatch(/\bancestor\s+lib@/);
    expect(byJob.stdout).toMatch(/\bnew-version\s+lib@/);
    expect(byJob.stdout).toMatch(/\bbuilt\s+lib@/);
  }, 120_000);
});

describe('path filters for git-hook pushes (changed paths from the mirror)', () => {
  const waitForBuilds = async (job: string, n: number): Promise<BuildRow[]> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      await nl.engine.decided();
      const list = await builds(job);
      if (list.length >= n) return list;
      if (Date.now() > deadline) throw new Error(`${job}: ${list.length} builds, wanted ${n}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('a README-only push through the real hook does not build `paths: [src/**]`; a src change does', async () => {
    const tokenFile = join(root, 'token');
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    await installHook(app.bare, { serverUrl: nl.url, tokenFile });

    // `fallback_poll: off` still checks once at start: the first build of `code` is that head's.
    const before = (await builds('code')).length;
    const readme = await commit(app.work, 'README.md', 'more words');
    git(app.work, 'push', '-q', 'origin', 'main');
    const afterReadme = await waitForBuilds('code', before + 1);
    const first = afterReadme.find((b) => b.inputs[0]?.version === readme);
    expect(first).toMatchObject({ state: 'skipped', reason: 'paths' });

    const src = await commit(app.work, 'src/a.txt', '2');
    git(app.work, 'push', '-q', 'origin', 'main');
    const list = await waitForBuilds('code', before + 2);
    expect(list.find((b) => b.inputs[0]?.version === src)).toMatchObject({ state: 'queued' });

    const why = await api<{ decisions: Array<{ rule: string; version: string; origin: string }> }>(
      `/api/why?job=code`,
    );
    expect(why.body.decisions.slice(0, 4).map((d) => [d.rule, d.version, d.origin])).toEqual([
      ['built', src, 'hook'],
      ['new-version', src, 'hook'],
      ['filtered-paths', readme, 'hook'],
      ['new-version', readme, 'hook'],
    ]);
  });

  it('a generic webhook without changed_paths gets them from the mirror', async () => {
    const notify = async (version: string) => {
      const body = JSON.stringify({ source: 'gen', version, ref: 'main' });
      const res = await fetch(`${nl.url}/hooks/generic`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-nightless-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
        },
        body,
        signal: AbortSignal.timeout(20_000),
      });
      expect(res.status).toBe(202);
    };
    await commit(gen.work, 'src/a.txt', '1');
    const readme = await commit(gen.work, 'README.md', 'words');
    git(gen.work, 'push', '-q', 'origin', 'main');
    await notify(readme); // no head known yet: the commit against its parent
    const [first] = await waitForBuilds('gencode', 1);
    expect(first).toMatchObject({ state: 'skipped', reason: 'paths' });

    await commit(gen.work, 'README.md', 'more words');
    const src = await commit(gen.work, 'src/a.txt', '2');
    git(gen.work, 'push', '-q', 'origin', 'main');
    await notify(src); // the known head (readme) .. src: README.md and src/a.txt
    const list = await waitForBuilds('gencode', 2);
    expect(list.find((b) => b.inputs[0]?.version === src)).toMatchObject({ state: 'queued' });
  });

  it('the paths of a new branch are its commit against the parent', async () => {
    const paths = await nl.store.read.getEvent(
      (
        await api<{ events: number[] }>('/hooks/git', {
          method: 'POST',
          body: JSON.stringify({
            repo: app.bare,
            updates: [
              { old: ZERO, new: git(app.work, 'rev-parse', 'HEAD'), ref: 'refs/heads/main' },
            ],
          }),
        })
      ).body.events[0] ?? 0,
    );
    expect(paths?.changedPaths).toEqual(['src/a.txt']);
  });
});
