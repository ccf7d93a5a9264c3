import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../../src/testing/git.js';
import {
  api,
  bin,
  exitWithin,
  notBuilt,
  spawnServe,
  urlOf,
  waitFor,
  type BuildsBody,
  type LogBody,
  type Served,
} from './serve-helpers.js';

/**
 * The server's life as an operator sees it, through real `nightless serve` processes on one
 * data directory: a second server refused by the data directory's lock, a graceful shutdown
 * that re-queues the running build, a kill -9 that the next start reports as lost — and in each
 * case the build's log says how it ended, and downstream gets exactly one event per change.
 */

/** Outbox rows (the lifecycle events every report target receives) of one build, in order. */
function outboxTypes(dataDir: string, buildId: number): string[] {
  const db = new BetterSqlite3(join(dataDir, 'nightless.db'), { readonly: true });
  try {
    return (
      db.prepare('select type from outbox where build_id = ? order by id').all(buildId) as Array<{
        type: string;
      }>
    ).map((r) => r.type);
  } finally {
    db.close();
  }
}

function buildRow(dataDir: string, id: number): { state: string; started_at: number | null } {
  const db = new BetterSqlite3(join(dataDir, 'nightless.db'), { readonly: true });
  try {
    return db.prepare('select state, started_at from builds where id = ?').get(id) as {
      state: string;
      started_at: number | null;
    };
  } finally {
    db.close();
  }
}

/** Wall time of `nightless --version`: what starting the CLI costs on this machine right now. */
async function bareStartMs(cwd: string): Promise<number> {
  const started = Date.now();
  await promisify(execFile)(process.execPath, [bin, '--version'], { cwd, timeout: 10_000 });
  return Date.now() - started;
}

describe.skipIf(notBuilt)('server lifecycle (real processes)', () => {
  let dir: string;
  let repo: string;
  let config: string;
  const running: Served[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-lifecycle-'));
    repo = join(dir, 'app.git');
    const work = join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', repo);
    git(dir, 'clone', '-q', repo, work);
    await writeFile(join(work, 'hello.txt'), 'hello\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'push', '-q', 'origin', 'HEAD:main');
    config = join(dir, 'nightless.yaml');
    // The step waits (at most 30 s) until the test creates its gate file: no timing guesses.
    await writeFile(
      config,
      `sources:
  app:
    git: ${JSON.stringify(repo)}
    branch: main
jobs:
  build:
    inputs: [app]
    steps:
      - run: |
          echo started
          for i in $(seq 300); do [ -f "$GATE" ] && break; sleep 0.1; done
          echo gate-open
    env:
      GATE: ${JSON.stringify(join(dir, 'gate'))}
`,
    );
  });
  afterAll(async () => {
    for (const s of running) if (s.child.exitCode === null) s.child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  const serve = (args: string[]): Served => {
    const s = spawnServe(['-c', config, ...args], dir);
    running.push(s);
    return s;
  };
  const gate = (open: boolean) =>
    open ? writeFile(join(dir, 'gate'), '') : rm(join(dir, 'gate'), { force: true });
  const stepStarted = (url: string, id: number, what: () => string) =>
    waitFor(
      async () => {
        const log = await api<LogBody>(`${url}/api/builds/${id}/log`).catch(() => null);
        return log?.lines?.some((l) => l.text === 'started') === true;
      },
      30_000,
      what,
    );

  it('refuses a second server on the same data directory within 2 s, touching nothing; the first one builds on', async () => {
    await gate(false);
    const data = join(dir, 'data-lock');
    const a = serve(['-d', data]);
    const aUrl = await urlOf(a);
    await stepStarted(aUrl, 1, () => a.stderr());

    const baseline = await bareStartMs(dir);
    const started = Date.now();
    const b = serve(['-d', data]);
    expect(await exitWithin(b, 10_000)).toBe(1);
    // 2 s, unless the machine is so loaded that node alone needs over 1 s to start the CLI
    // (seen at load 19 on 2 cores): then the refusal may cost one more such start.
    expect(Date.now() - started).toBeLessThan(Math.max(2000, 2 * baseline));
    expect(b.stderr()).toContain(`data directory ${data} is in use by another nightless server`);
    expect(b.stderr()).toContain(`(pid ${a.child.pid})`);
    expect(b.stdout()).not.toContain('serving'); // never listened

    // A's build was not recovered as lost by B, nor re-queued: it finishes and passes.
    await gate(true);
    await waitFor(
      async () =>
        (await api<BuildsBody>(`${aUrl}/api/builds`)).builds.find((x) => x.state === 'passed'),
      30_000,
      () => a.stderr(),
    );
    const builds = (await api<BuildsBody>(`${aUrl}/api/builds`)).builds;
    expect(builds.map((x) => [x.id, x.state])).toEqual([[1, 'passed']]);
    a.child.kill('SIGTERM');
    expect(await exitWithin(a, 15_000)).toBe(0);
    expect(outboxTypes(data, 1)).toEqual(['queued', 'started', 'finished']);
    expect(existsSync(join(data, 'server.pid'))).toBe(false);

    // The lock died with A: the next server starts on the directory.
    const c = serve(['-d', data, '--slots', '0']);
    await urlOf(c);
    c.child.kill('SIGTERM');
    expect(await exitWithin(c, 15_000)).toBe(0);
  });

  it('SIGKILL releases the lock: the next start reports the build lost, with a closing line in its log', async () => {
    await gate(false);
    const data = join(dir, 'data-kill');
    const a = serve(['-d', data]);
    const aUrl = await urlOf(a);
    await stepStarted(aUrl, 1, () => a.stderr());
    a.child.kill('SIGKILL');
    await a.exited;
    // The pid file is stale now; the lock is not.
    expect((await readFile(join(data, 'server.pid'), 'utf8')).trim()).toBe(String(a.child.pid));

    const b = serve(['-d', data, '--slots', '0']);
    const bUrl = await urlOf(b);
    try {
      const lost = (await api<BuildsBody>(`${bUrl}/api/builds`)).builds.find((x) => x.id === 1);
      expect(lost).toMatchObject({
        state: 'error',
        reason: 'lost: the server stopped while the build was running',
      });
      const log = await api<LogBody>(`${bUrl}/api/builds/1/log`);
      expect(log.lines.at(-1)).toMatchObject({
        stream: 'system',
        text: '!!! error: lost: the server stopped while the build was running',
      });
      expect(outboxTypes(data, 1)).toEqual(['queued', 'started', 'finished']);
    } finally {
      b.child.kill('SIGTERM');
      await b.exited;
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)(
    'on %s re-queues the running build: one `queued` event, closing log lines (after SIGTERM, the next start builds it once)',
    async (signal) => {
      await gate(false);
      const data = join(dir, `data-${signal}`);
      const a = serve(['-d', data]);
      const aUrl = await urlOf(a);
      await stepStarted(aUrl, 1, () => a.stderr());
      a.child.kill(signal);
      expect(await exitWithin(a, 10_000)).toBe(0);

      // Ended in the database before the process exited: not `running`, so nothing is lost.
      expect(buildRow(data, 1)).toEqual({ state: 'queued', started_at: null });
      expect(outboxTypes(data, 1)).toEqual(['queued', 'started', 'queued']);
      const log = (await readFile(join(data, 'logs', '1.log'), 'utf8')).trimEnd().split('\n');
      expect(log.slice(-2).map((l) => l.replace(/^\d+ /, ''))).toEqual([
        's !!! cancelled: server shutting down',
        's !!! re-queued: this build runs again from the start when the server starts',
      ]);

      if (signal === 'SIGINT') return; // the same path from here on; SIGTERM goes on
      await gate(true);
      const b = serve(['-d', data]);
      const bUrl = await urlOf(b);
      try {
        await waitFor(
          async () =>
            (await api<BuildsBody>(`${bUrl}/api/builds`)).builds.find(
              (x) => x.id === 1 && x.state === 'passed',
            ),
          30_000,
          () => b.stderr(),
        );
        // The same build ran again: no lost build, no retry, one `finished`.
        expect((await api<BuildsBody>(`${bUrl}/api/builds`)).builds).toHaveLength(1);
      } finally {
        b.child.kill('SIGTERM');
        expect(await exitWithin(b, 15_000)).toBe(0);
      }
      expect(outboxTypes(data, 1)).toEqual(['queued', 'started', 'queued', 'started', 'finished']);
    },
  );
});
