import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import type { Build } from '../../src/core/build.js';
import { git, gitTestEnv } from '../../src/testing/git.js';

/**
 * `concurrency:` end to end: a real server with `--slots 2`, a real git repository, pushes
 * announced through `POST /hooks/git` as the installed hook sends them, and real build
 * processes. The first build of `main` waits for a file, so the burst arrives while it runs.
 */
let root: string;
let work: string;
let nl: Nightless;
let token: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-concurrency-'));
  work = join(root, 'app');
  git(root, 'init', '-q', '--initial-branch=main', work);
  await commit('0');
  // Each run appends "start VERSION" and "end VERSION"; the first one waits (bounded) for `release`.
  await writeFile(
    join(root, 'step.sh'),
    `set -eu
log="${join(root, 'runs.log')}"
echo "start $NIGHTLESS_INPUT_APP_REF $NIGHTLESS_INPUT_APP_VERSION" >> "$log"
if [ "$NIGHTLESS_INPUT_APP_VERSION" = "$(cat "${join(root, 'hold')}" 2>/dev/null || true)" ]; then
  i=0
  while [ ! -e "${join(root, 'release')}" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
fi
echo "end $NIGHTLESS_INPUT_APP_REF $NIGHTLESS_INPUT_APP_VERSION" >> "$log"
`,
  );
  await writeFile(
    join(root, 'nightless.yaml'),
    `version: 1
pipeline: concurrency
sources:
  app:
    git: ${work}
    branches: [main, dev]
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    steps: ['sh ${join(root, 'step.sh')}']
`,
  );
  nl = await startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port: 0,
    slots: 2,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
  token = (await readFile(join(root, 'data', 'token'), 'utf8')).trim();
}, 60_000);

afterAll(async () => {
  if (root) await writeFile(join(root, 'release'), '');
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

async function commit(content: string): Promise<string> {
  await writeFile(join(work, 'f'), content);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', `commit ${content}`);
  return git(work, 'rev-parse', 'HEAD');
}

function commitBurst(n: number): string[] {
  const base = git(work, 'rev-parse', 'HEAD');
  let stream = '';
  for (let i = 1; i <= n; i++) {
    const msg = `burst ${i}`;
    stream += `commit refs/heads/main\ncommitter t <t@x> ${1_700_000_000 + i} +0000\n`;
    stream += `data ${msg.length}\n${msg}\n${i === 1 ? `from ${base}\n` : ''}`;
    stream += `M 644 inline f\ndata ${String(i).length}\n${i}\n\n`;
  }
  execFileSync('git', ['fast-import', '--quiet'], { cwd: work, input: stream, env: gitTestEnv });
  git(work, 'reset', '-q', '--hard', 'main');
  return git(work, 'rev-list', '--reverse', `${base}..main`).split('\n');
}

/** What the installed hook sends after a push: one ref update. */
async function hook(ref: string, old: string, sha: string): Promise<void> {
  const res = await fetch(`${nl.url}/hooks/git`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ repo: work, updates: [{ old, new: sha, ref: `refs/heads/${ref}` }] }),
    signal: AbortSignal.timeout(10_000),
  });
  expect(res.status).toBe(202);
}

async function builds(): Promise<Build[]> {
  return (await nl.store.read.listBuilds({ limit: 1000 })).sort((a, b) => a.id - b.id);
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const ZERO = '0'.repeat(40);
const versionOf = (b: Build) => b.inputs[0]?.version;

describe('concurrency: one running build per job and branch (slots 2, real git)', () => {
  it('a burst of 100 pushes while a build runs yields that build and one of the head, which starts last; another branch uses the free slot', async () => {
    const first = git(work, 'rev-parse', 'HEAD');
    await writeFile(join(root, 'hold'), first);
    await hook('main', ZERO, first);
    await waitFor(async () => {
      const b = (await builds())[0];
      return b?.state === 'running' ? b : undefined;
    }, 'the first build to run');

    // 100 commits on main in one `git fast-import` (100 `git commit`s cost 300 processes).
    const burst = commitBurst(100);
    let old = first;
    for (const sha of burst) {
      await hook('main', old, sha);
      old = sha;
    }
    expect(burst).toHaveLength(100);
    await nl.engine.decided();
    const head = burst[burst.length - 1];

    // The free slot stays free for main: nothing else of main runs while the first build does.
    const during = await builds();
    expect(during.filter((b) => b.state === 'running').map(versionOf)).toEqual([first]);
    expect(during.filter((b) => b.state === 'queued').map(versionOf)).toEqual([head]);

    // Another branch of the same job is another group: it takes the second slot at once.
    git(work, 'checkout', '-q', '-b', 'dev');
    const devSha = await commit('dev');
    git(work, 'checkout', '-q', 'main');
    await hook('dev', ZERO, devSha);
    await waitFor(async () => {
      const b = (await builds()).find((x) => versionOf(x) === devSha);
      return b?.state === 'passed' ? b : undefined;
    }, 'the dev build to pass while main is held');
    expect((await builds()).find((b) => versionOf(b) === first)?.state).toBe('running');

    await writeFile(join(root, 'release'), '');
    await waitFor(async () => {
      const all = await builds();
      return all.every((b) => b.state !== 'queued' && b.state !== 'running') ? all : undefined;
    }, 'every build to finish');

    const main = (await builds()).filter((b) => b.inputs[0]?.ref === 'main');
    const ran = main.filter((b) => b.state !== 'superseded');
    expect(ran.map((b) => [versionOf(b), b.state])).toEqual([
      [first, 'passed'],
      [head, 'passed'],
    ]);
    // Every commit between the first and the head got a build that was superseded — or, when a
    // check of the repository found the tip before their hooks were decided (timing), was
    // recorded as an ancestor of that head. None of them ran.
    const superseded = new Set(main.filter((b) => b.state === 'superseded').map(versionOf));
    const decisions = await nl.store.read.listDecisions({ source: 'app', limit: 1000 });
    const olderThanHead = new Set(
      decisions.filter((d) => d.rule === 'ancestor').map((d) => d.version),
    );
    const between = burst.slice(0, -1);
    expect(between.filter((v) => !superseded.has(v) && !olderThanHead.has(v))).toEqual([]);
    // The head's build starts after the first one finished: never two of main at once.
    const [a, b] = ran;
    expect(b!.startedAt!).toBeGreaterThanOrEqual(a!.finishedAt!);

    const log = (await readFile(join(root, 'runs.log'), 'utf8')).trim().split('\n');
    const mainLines = log.filter((l) => l.includes(' main '));
    expect(mainLines).toEqual([
      `start main ${first}`,
      `end main ${first}`,
      `start main ${head}`,
      `end main ${head}`,
    ]);
    expect(log).toContain(`start dev ${devSha}`);
    expect(existsSync(join(root, 'release'))).toBe(true);
  }, 120_000);
});
