import { execFileSync } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { mkdtemp, rm, writeFile, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lsRemoteAll, type RemoteHead } from '../../../src/ingest/poll/git-ls-remote.js';
import { readLocalHeads } from '../../../src/ingest/poll/local-refs.js';
import { git, lsRemoteHeads } from '../../../src/testing/git.js';

/**
 * A local repository's heads read from its files must be exactly what `git ls-remote --heads`
 * answers (real git, real repositories), and every layout the reader does not know goes to git.
 */
let dir: string;
let work: string;
let bare: string;
const limits = { connectTimeoutMs: 10_000, stallTimeoutMs: 10_000 };

/** What git itself answers for `url`. */
const gitHeads = (url: string): RemoteHead[] => lsRemoteHeads(url);

const sorted = (h: readonly RemoteHead[] | null) =>
  h === null ? null : [...h].sort((a, b) => (a.ref < b.ref ? -1 : 1));

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-local-refs-'));
  work = join(dir, 'work');
  git(dir, 'init', '-q', work);
  await writeFile(join(work, 'README'), 'one\n');
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', 'one');
  git(work, 'branch', 'release/1.0');
  git(work, 'branch', 'feature/deep/name');
  git(work, 'tag', 'v1');
  bare = join(dir, 'bare.git');
  git(dir, 'clone', '-q', '--bare', work, bare); // a clone's refs are all in packed-refs
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe('local repository heads without git', () => {
  it('a bare clone (packed refs) answers what git ls-remote answers, branches only', async () => {
    const heads = await readLocalHeads(bare, 10_000);
    expect(sorted(heads)).toEqual(sorted(gitHeads(bare)));
    expect(heads?.map((h) => h.ref).sort()).toEqual(['feature/deep/name', 'main', 'release/1.0']);
  });

  it('a working repository (loose refs) answers through its .git directory', async () => {
    expect(sorted(await readLocalHeads(work, 10_000))).toEqual(sorted(gitHeads(work)));
  });

  it('a push after packing: the loose ref wins over packed-refs, a deleted branch is gone', async () => {
    const repo = join(dir, 'pushed.git');
    git(dir, 'clone', '-q', '--bare', work, repo);
    await appendFile(join(work, 'README'), 'two\n');
    git(work, 'commit', '-q', '-am', 'two');
    git(work, 'push', '-q', repo, 'main');
    git(repo, 'branch', '-D', 'release/1.0');
    const heads = await readLocalHeads(repo, 10_000);
    expect(sorted(heads)).toEqual(sorted(gitHeads(repo)));
    expect(heads?.find((h) => h.ref === 'main')?.sha).toBe(git(work, 'rev-parse', 'HEAD'));
    expect(heads?.some((h) => h.ref === 'release/1.0')).toBe(false);
  });

  it('a repository with no branches yet answers none, as git does', async () => {
    const empty = join(dir, 'empty.git');
    git(dir, 'init', '-q', '--bare', empty);
    expect(await readLocalHeads(empty, 10_000)).toEqual([]);
    expect(gitHeads(empty)).toEqual([]);
  });
});

describe('layouts left to git', () => {
  const cases: Array<[string, () => string]> = [
    ['a file:// URL (the remote protocol, asked for)', () => `file://${bare}`],
    ['a relative path', () => 'bare.git'],
    ['a path that is no repository', () => join(dir, 'nothing-here')],
    [
      'a linked worktree (a .git file)',
      () => {
        const wt = join(dir, `wt-${Date.now()}`);
        git(work, 'worktree', 'add', '-q', '--detach', wt);
        return wt;
      },
    ],
    [
      'hideRefs in the repository config (upload-pack hides them)',
      () => {
        const repo = join(dir, 'hidden.git');
        git(dir, 'clone', '-q', '--bare', work, repo);
        git(repo, 'config', 'transfer.hideRefs', 'refs/heads/release');
        return repo;
      },
    ],
    [
      'an [extensions] section (reftable, sha256 ...)',
      () => {
        const repo = join(dir, 'ext.git');
        git(dir, 'clone', '-q', '--bare', work, repo);
        git(repo, 'config', 'extensions.worktreeConfig', 'true');
        return repo;
      },
    ],
    [
      'a symbolic ref under refs/heads/',
      () => {
        const repo = join(dir, 'symref.git');
        git(dir, 'init', '-q', '--bare', repo);
        git(work, 'push', '-q', repo, 'main');
        git(repo, 'symbolic-ref', 'refs/heads/alias', 'refs/heads/main');
        return repo;
      },
    ],
  ];
  for (const [what, make] of cases)
    it(`${what}: not read here, and lsRemoteAll still answers as git does`, async () => {
      const url = make();
      expect(await readLocalHeads(url, 10_000)).toBeNull();
      if (!url.startsWith('/') || url.includes('nothing-here')) return;
      expect(sorted(await lsRemoteAll(url, limits))).toEqual(sorted(gitHeads(url)));
    });
});

describe('lsRemoteAll on a local path', () => {
  const path = process.env.PATH;
  afterEach(() => {
    process.env.PATH = path;
  });

  it('answers without starting git; a file:// URL of the same repository still runs git', async () => {
    process.env.PATH = join(dir, 'no-programs-here');
    expect(sorted(await lsRemoteAll(bare, limits))).toEqual(sorted(gitHeads(bare)));
    await expect(lsRemoteAll(`file://${bare}`, limits)).rejects.toThrow(/ENOENT|not found/);
  });
});

describe('a file system that does not answer', () => {
  it('fails the check after its timeout, naming the repository, instead of hanging', async () => {
    const repo = join(dir, 'hung.git');
    git(dir, 'clone', '-q', '--bare', work, repo);
    // Reading a FIFO with no writer blocks, as a read from a hung NFS mount would.
    await rm(join(repo, 'config'));
    execFileSync('mkfifo', [join(repo, 'config')]);
    const started = Date.now();
    try {
      await expect(lsRemoteAll(repo, { ...limits, timeoutMs: 300 })).rejects.toThrow(
        `reading the refs of ${repo} timed out after 300 ms`,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      closeSync(openSync(join(repo, 'config'), 'w')); // lets the blocked read end
    }
  });
});
