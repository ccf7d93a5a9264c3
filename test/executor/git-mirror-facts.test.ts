import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { git } from '../../src/testing/git.js';

/**
 * What the scheduler and ingest ask of a mirror (real git): how two commits relate, and which
 * paths a change touched — with names a shell would mangle, read as `-z` data.
 */
let root: string;
let repo: string;
let mirrors: GitMirrors;
const c: Record<string, string> = {};

async function commit(name: string, file: string): Promise<void> {
  await mkdir(join(repo, file, '..'), { recursive: true });
  await writeFile(join(repo, file), name);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-qm', name);
  c[name] = git(repo, 'rev-parse', 'HEAD');
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-mirror-facts-'));
  repo = join(root, 'repo');
  git(root, 'init', '-q', '--initial-branch=main', repo);
  await commit('root', 'README.md');
  await commit('g', 'src/$(touch pwned) "q".txt');
  await commit('h', 'docs/a b.md');
  git(repo, 'checkout', '-q', '-b', 'other', c.g!);
  await commit('x', 'src/x.txt');
  git(repo, 'checkout', '-q', 'main');
  mirrors = new GitMirrors(join(root, 'git'));
});
afterAll(() => rm(root, { recursive: true, force: true, maxRetries: 5 }));

describe('GitMirrors.relation', () => {
  it('tells an ancestor, a descendant and an unrelated commit (a force push) apart', async () => {
    expect(await mirrors.relation(repo, c.g!, c.h!)).toBe('ancestor');
    expect(await mirrors.relation(repo, c.h!, c.g!)).toBe('descendant');
    expect(await mirrors.relation(repo, c.x!, c.h!)).toBe('unrelated');
  });

  it('fails clearly when a commit does not exist', async () => {
    await expect(mirrors.relation(repo, 'f'.repeat(40), c.h!)).rejects.toThrow(/not found/);
  });
});

describe('GitMirrors.changedPaths', () => {
  it('lists old..new, a new branch against its parent, and a root commit whole, as data', async () => {
    expect(await mirrors.changedPaths(repo, c.root!, c.h!)).toEqual([
      'docs/a b.md',
      'src/$(touch pwned) "q".txt',
    ]);
    expect(await mirrors.changedPaths(repo, null, c.x!)).toEqual(['src/x.txt']);
    expect(await mirrors.changedPaths(repo, null, c.root!)).toEqual(['README.md']);
    // An old commit that is not there (force-pushed away and collected): unknown.
    expect(await mirrors.changedPaths(repo, 'e'.repeat(40), c.h!)).toBeNull();
  });
});
