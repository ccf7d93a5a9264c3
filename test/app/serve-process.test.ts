import { execFileSync } from 'node:child_process';
import { git } from '../../src/testing/git.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findOrphans } from '../../src/executor/orphans.js';
import {
  api,
  notBuilt,
  bin,
  spawnServe,
  urlOf,
  waitFor,
  type BuildsBody,
} from './serve-helpers.js';

/**
 * `nightless serve` as a user runs it: a real process, a real git repository, real HTTP, the
 * compiled CLI (`npm test` builds it first).
 */
/** `spawnServe` + the URL it printed: most tests here need both at once. */
async function serve(args: string[], cwd: string) {
  const s = spawnServe(args, cwd);
  return { ...s, url: await urlOf(s) };
}

function cli(args: string[], cwd: string): { code: number; stdout: string } {
  try {
    const stdout = execFileSync(process.execPath, [bin, ...args], {
      cwd,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { code: 0, stdout };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { code: err.status, stdout: err.stdout };
  }
}

describe.skipIf(notBuilt)('nightless serve (real process)', () => {
  let dir: string;
  let repo: string;
  let config: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-serve-'));
    repo = join(dir, 'app.git');
    const work = join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', repo);
    git(dir, 'clone', '-q', repo, work);
    await writeFile(join(work, 'hello.txt'), 'hello\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'push', '-q', 'origin', 'HEAD:main');
    config = join(dir, 'nightless.yaml');
  });
  afterAll(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));

  const pipeline = (extraJob = '') => `sources:
  app:
    git: ${JSON.stringify(repo)}
    branch: main
jobs:
  build:
    inputs: [app]
    steps:
      - run: cat hello.txt && sleep "\${SLEEP:-0}"
    env:
      SLEEP: "0"
${extraJob}`;

  it('builds on start, reloads a changed file, keeps the old one when the new one is bad, and stops on SIGTERM', async () => {
    await writeFile(config, pipeline());
    const s = await serve(['-c', config, '-d', join(dir, 'data1')], dir);
    try {
      const passed = await waitFor(
        async () =>
          (await api<BuildsBody>(`${s.url}/api/builds`)).builds.find(
            (b) => b.job === 'build' && b.state === 'passed',
          ),
        30_000,
        () => s.stderr(),
      );
      expect(passed.id).toBe(1);
      const status = cli(['status', '--server', s.url, '--json'], dir);
      expect(status.code).toBe(0);
      expect(JSON.stringify(JSON.parse(status.stdout))).toContain('"passed"');

      await writeFile(config, `${pipeline()}  oops: [`);
      await waitFor(
        () => (s.stderr().includes('new pipeline file rejected') ? true : undefined),
        10_000,
        () => s.stderr(),
      );
      expect(s.stderr()).toMatch(/nightless\.yaml:\d+:\d+/);
      expect((await api<{ jobs: unknown[] }>(`${s.url}/api/jobs`)).jobs).toHaveLength(1);

      await writeFile(
        config,
        pipeline(`  lint:\n    inputs: [app]\n    steps:\n      - run: "true"\n`),
      );
      await waitFor(
        async () =>
          (await api<{ jobs: unknown[] }>(`${s.url}/api/jobs`)).jobs.length === 2
            ? true
            : undefined,
        10_000,
        () => s.stderr(),
      );
      await waitFor(
        async () =>
          (await api<BuildsBody>(`${s.url}/api/builds?job=lint`)).builds.find(
            (b) => b.state === 'passed',
          ),
        30_000,
        () => s.stderr(),
      );
      // The unchanged job was not rebuilt by the reload.
      expect((await api<BuildsBody>(`${s.url}/api/builds?job=build`)).builds).toHaveLength(1);

      const unauth = await fetch(`${s.url}/api/jobs/build/trigger`, {
        method: 'POST',
        signal: AbortSignal.timeout(5000),
      });
      expect(unauth.status).toBe(401);
      expect(await unauth.json()).toMatchObject({ error: { code: 'NL_UNAUTHORIZED' } });
    } finally {
      s.child.kill('SIGTERM');
    }
    expect(
      await Promise.race([s.exited, new Promise((r) => setTimeout(() => r('hung'), 15_000))]),
    ).toBe(0);
  });

  it('finds a build left running by a killed server: error (lost), re-queued once', async () => {
    await writeFile(config, pipeline().replace('SLEEP: "0"', 'SLEEP: "60"'));
    const data = join(dir, 'data2');
    const first = await serve(['-c', config, '-d', data], dir);
    // Wait until the step itself runs (its output is in the log), not just the claim.
    await waitFor(
      async () => {
        const log = await api<{ lines?: Array<{ text: string }> }>(
          `${first.url}/api/builds/1/log`,
        ).catch(() => ({ lines: [] }));
        return log.lines?.some((l) => l.text === 'hello') ? true : undefined;
      },
      30_000,
      () => first.stderr(),
    );
    first.child.kill('SIGKILL');
    await first.exited;

    // The step's `sleep 60` ends with the killed server (its spawn helper ends it).
    await waitFor(
      async () => ((await findOrphans(join(data, 'workspaces', '1'))).length ? undefined : true),
      6000,
      () => 'the killed server’s step is still running',
    );
    const second = await serve(['-c', config, '-d', data, '--slots', '0'], dir);
    try {
      const builds = (await api<BuildsBody>(`${second.url}/api/builds`)).builds;
      const lost = builds.find((b) => b.id === 1);
      expect(lost).toMatchObject({ state: 'error', attempt: 1 });
      expect(lost!.reason).toMatch(/^lost/);
      expect(builds.find((b) => b.attempt === 2)).toMatchObject({ state: 'queued' });
      expect(await findOrphans(join(data, 'workspaces', '1'))).toEqual([]);
    } finally {
      second.child.kill('SIGTERM');
      await second.exited;
    }
  });

  it('serves the README demo: a build passes within seconds and `nightless status` shows it', async () => {
    const s = await serve(['--demo', '-d', join(dir, 'demo-data')], dir);
    try {
      expect(s.stdout()).toContain('Try next:');
      await waitFor(
        async () => {
          const builds = (await api<BuildsBody>(`${s.url}/api/builds`)).builds;
          return builds.some((b) => b.job === 'integration' && b.state === 'passed')
            ? true
            : undefined;
        },
        45_000,
        () => s.stderr(),
      );
      const status = cli(['status', '--server', s.url], dir);
      expect(status.code).toBe(0);
      expect(status.stdout).toMatch(/build\s+passed/);
      expect(status.stdout).toMatch(/integration\s+passed/);
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
