import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import type { Build } from '../../src/core/build.js';
import { git } from '../../src/testing/git.js';
import { runCli } from './helpers/spawn-cli.js';

/**
 * `nightless trigger JOB --input NAME=VERSION` and `nightless rebuild BUILD`: the real CLI
 * process against a real server (real git, real build processes, real HTTP).
 */
let root: string;
let work: string;
let nl: Nightless;
let token: string;
let env: Record<string, string>;
let c1: string;
let c2: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-pins-'));
  work = join(root, 'app');
  git(root, 'init', '-q', '--initial-branch=main', work);
  c1 = await commit('one');
  await writeFile(
    join(root, 'nightless.yaml'),
    `version: 1
pipeline: pins
sources:
  app:
    git: ${work}
    branch: main
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    steps: ['mkdir -p dist && cat f > dist/out.txt']
    outputs: { dist: dist/out.txt }
  pack:
    inputs: [build.dist]
    steps: ['true']
`,
  );
  nl = await startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port: 0,
    slots: 1,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
  token = (await readFile(join(root, 'data', 'token'), 'utf8')).trim();
  env = { NIGHTLESS_SERVER: nl.url, NIGHTLESS_TOKEN: token };
  await hook(c1);
  await nl.engine.settled();
  c2 = await commit('two');
  await hook(c2);
  await nl.engine.settled();
}, 120_000);

afterAll(async () => {
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

async function commit(content: string): Promise<string> {
  await writeFile(join(work, 'f'), content);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', content);
  return git(work, 'rev-parse', 'HEAD');
}

async function hook(sha: string): Promise<void> {
  const res = await fetch(`${nl.url}/hooks/git`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      repo: work,
      updates: [{ old: '0'.repeat(40), new: sha, ref: 'refs/heads/main' }],
    }),
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status).toBe(202);
}

async function build(id: number): Promise<Build> {
  const b = await nl.store.read.getBuild(id);
  if (!b) throw new Error(`no build ${id}`);
  return b;
}

const queuedId = (stdout: string): number => Number(/queued build #(\d+)/.exec(stdout)?.[1]);

describe('pinned inputs (CLI process against a real server)', { timeout: 120_000 }, () => {
  it('trigger --input runs the job on an older version it has seen, and records who pinned it', async () => {
    const builds = await nl.store.read.listBuilds({ job: 'build', limit: 10 });
    const first = builds.find((b) => b.inputs[0]?.version === c1);
    expect(first?.state).toBe('passed');

    // The same input set without --force: nothing queued, the reason is printed.
    const again = await runCli(['trigger', 'build', '--input', `app=${c1.slice(0, 8)}`], {
      env,
    });
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`build #${first!.id}`);

    const r = await runCli(
      [
        'trigger',
        'build',
        '--input',
        `app=${c1.slice(0, 8)}`,
        '--force',
        '--by',
        'alice',
        '--wait',
      ],
      { env },
    );
    expect(r.code).toBe(0);
    const id = queuedId(r.stdout);
    expect(r.stdout).toMatch(new RegExp(`build #${id} \\(build\\) passed`));
    const b = await build(id);
    expect(b.inputs).toMatchObject([{ source: 'app', version: c1, ref: 'main', origin: 'manual' }]);
    expect(b.cause).toEqual({
      kind: 'manual',
      forced: true,
      by: 'alice',
      pins: [{ source: 'app', version: c1, ref: 'main' }],
    });
    // The head is unchanged: a pin builds an old version, it does not move the branch back.
    expect((await nl.store.sources.sourceHeads('app'))[0]?.version).toBe(c2);

    const [listed, why] = await Promise.all([
      runCli(['builds', '--job', 'build', '--limit', '1'], { env }),
      runCli(['why', 'build'], { env }),
    ]);
    expect(listed.stdout).toContain(`app@${c1.slice(0, 10)} pinned by alice`);
    expect(why.stdout).toContain(`manual trigger by alice with app@${c1.slice(0, 10)} pinned`);
  });

  it('a job output version can be pinned too', async () => {
    const digest = (await nl.store.read.getBuild(1))?.outputs[0]?.digest;
    expect(digest).toMatch(/^[0-9a-f]{64}$/);
    const r = await runCli(
      ['trigger', 'pack', '--input', `build.dist=${digest!.slice(0, 12)}`, '--force', '--wait'],
      { env },
    );
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\(pack\) passed/);
    expect((await build(queuedId(r.stdout))).inputs).toMatchObject([
      { source: 'build.dist', version: digest },
    ]);
  });

  it('an unknown version or input is a clear 4xx naming the input and the version', async () => {
    // Spawned together: each is a separate process and none of them changes anything.
    const [unknown, foreign, malformed] = await Promise.all([
      runCli(['trigger', 'build', '--input', 'app=deadbeef'], { env }),
      runCli(['trigger', 'build', '--input', 'lib=1.0'], { env }),
      runCli(['trigger', 'build', '--input', 'app'], { env }),
    ]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe(
      'nightless: 404 NL_NOT_FOUND: input "app=deadbeef": nightless has never seen a version of app that starts with "deadbeef"\n',
    );
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toBe(
      'nightless: 400 NL_BAD_REQUEST: input "lib=1.0": job "build" has no input "lib" (its inputs: app)\n',
    );
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toContain('expected NAME=VERSION');
  });

  it('rebuild BUILD runs the same inputs again, forced, and says which build it repeats', async () => {
    const r = await runCli(['rebuild', '#1', '--by', 'bob', '--wait'], { env });
    expect(r.code).toBe(0);
    const id = queuedId(r.stdout);
    const b = await build(id);
    const old = await build(1);
    expect(b).toMatchObject({ job: 'build', forced: true, state: 'passed' });
    expect(b.inputs.map((i) => [i.source, i.version])).toEqual(
      old.inputs.map((i) => [i.source, i.version]),
    );
    expect(b.cause).toMatchObject({ kind: 'manual', by: 'bob', rebuildOf: 1 });
    const [show, missing] = await Promise.all([
      runCli(['show', String(id)], { env }),
      runCli(['rebuild', '999'], { env }),
    ]);
    expect(show.stdout).toContain('rebuild of #1 by bob (forced)');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('nightless: 404 NL_NOT_FOUND: no build #999\n');
  });

  it('the API and its OpenAPI document describe both', async () => {
    const doc = (await (await fetch(`${nl.url}/api/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toContain('/api/builds/{id}/rebuild');
    const noAuth = await fetch(`${nl.url}/api/builds/1/rebuild`, { method: 'POST' });
    expect(noAuth.status).toBe(401);
    const res = await fetch(`${nl.url}/api/jobs/build/trigger`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ inputs: { app: c2.slice(0, 7) } }),
    });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { build: Build | null; decisions: Array<{ rule: string }> };
    // c2 is the head and was built: nothing new, and the decision says so.
    expect(body.build).toBeNull();
    expect(body.decisions.map((d) => d.rule)).toEqual(['same-fingerprint']);
  });
});
