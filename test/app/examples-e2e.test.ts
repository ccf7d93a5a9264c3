import { execFileSync } from 'node:child_process';
import { git, gitTestEnv } from '../../src/testing/git.js';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';

/** examples/local-chain as its comment tells a user to run it, through the real composition root. */
describe('examples/local-chain builds end to end', () => {
  let dir: string;
  let project: string;
  let app: Nightless;

  beforeAll(async () => {
    // A copy of the repository's examples/, and the commands the example's comment documents,
    // run from the repository root as written.
    const repoRoot = await mkdtemp(join(tmpdir(), 'nightless-example-'));
    dir = join(repoRoot, 'examples', 'local-chain');
    const example = join(import.meta.dirname, '..', '..', 'examples', 'local-chain');
    await cp(example, dir, { recursive: true });
    project = join(dir, 'project');
    const commands = documentedCommands(await readFile(join(example, 'nightless.yaml'), 'utf8'));
    expect(commands[0]).toMatch(/^cd examples\/local-chain\/project && git init/);
    expect(commands[1]).toBe('nightless serve -c nightless.yaml');
    execFileSync('sh', ['-c', commands[0] ?? 'false'], { cwd: repoRoot, env: gitTestEnv });
    expect(git(project, 'log', '--oneline')).toMatch(/init$/);
    // `nightless serve -c nightless.yaml` from examples/local-chain (where `cd ..` leaves you).
    app = await startNightless({
      configPath: join(dir, 'nightless.yaml'),
      dataDir: join(dir, 'data'),
      host: '127.0.0.1',
      port: 0,
      slots: 2,
      logger: pino({ level: 'silent' }),
      watchConfig: false,
    });
  });
  afterAll(async () => {
    await app?.stop();
    await rm(join(dir, '..', '..'), { recursive: true, force: true, maxRetries: 5 });
  });

  const builds = async () =>
    (await app.store.read.listBuilds({ limit: 50 }))
      .map((b) => ({ id: b.id, job: b.job, state: b.state, reason: b.reason }))
      .reverse();

  it('builds test, package and smoke from the first commit', async () => {
    await waitUntil(async () => (await builds()).filter((b) => b.state === 'passed').length === 3);
    await app.engine.settled();
    expect(await builds()).toMatchObject([
      { job: 'test', state: 'passed' },
      { job: 'package', state: 'passed' },
      { job: 'smoke', state: 'passed' },
    ]);
    const test = (await app.store.read.listBuilds({ job: 'test', limit: 1 }))[0];
    expect(test?.coverage).toMatchObject({ lines: 100 });
  });

  it('a docs-only commit is recorded as skipped: paths and builds nothing', async () => {
    await writeFile(join(project, 'README.md'), '# wordcount\n\nNow with more words.\n');
    git(project, 'commit', '-qam', 'docs');
    await app.poller.pollNow('project');
    await app.engine.settled();
    const after = (await builds()).slice(3);
    expect(after).toEqual([
      expect.objectContaining({ job: 'test', state: 'skipped', reason: 'paths' }),
      expect.objectContaining({ job: 'package', state: 'skipped', reason: 'paths' }),
    ]);
  });

  it('a source change rebuilds; byte-identical packaging stops before smoke (early cutoff)', async () => {
    await writeFile(join(project, 'test', 'extra.txt'), 'not packaged\n');
    git(project, 'add', '.');
    git(project, 'commit', '-qm', 'test data');
    await app.poller.pollNow('project');
    await app.engine.settled();
    const after = (await builds()).slice(5);
    expect(after).toMatchObject([
      { job: 'test', state: 'passed' },
      { job: 'package', state: 'passed' },
    ]);
    const why = await app.store.read.listDecisions({ job: 'smoke', limit: 1 });
    expect(why[0]).toMatchObject({ rule: 'early-cutoff' });
  });
});

/** The indented shell commands in the example's leading comment block. */
function documentedCommands(yaml: string): string[] {
  return yaml
    .split('\n')
    .filter((l) => /^# {3}\S/.test(l))
    .map((l) => l.slice(4).trim());
}

async function waitUntil(probe: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 100));
  }
}
