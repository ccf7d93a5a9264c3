import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoKey } from '../../../src/ingest/webhooks/repo-url.js';

describe('repoKey', () => {
  it.each([
    'https://github.com/Codertocat/Hello-World.git',
    'https://github.com/Codertocat/Hello-World',
    'https://github.com/Codertocat/Hello-World/',
    'http://GitHub.com/codertocat/hello-world.git',
    'https://ci:s3cret@github.com:443/Codertocat/Hello-World.git',
    'git@github.com:Codertocat/Hello-World.git',
    'github.com:Codertocat/Hello-World',
    'ssh://git@github.com/Codertocat/Hello-World.git',
    'ssh://git@github.com:22/Codertocat/Hello-World.git',
    'git://github.com/Codertocat/Hello-World.git',
    '  https://github.com/Codertocat/Hello-World.git  ',
  ])('%s is github.com/codertocat/hello-world', (url) => {
    expect(repoKey(url)).toBe('github.com/codertocat/hello-world');
  });

  it('keeps GitLab subgroups and different hosts apart', () => {
    expect(repoKey('git@gitlab.example.com:group/sub/proj.git')).toBe(
      'gitlab.example.com/group/sub/proj',
    );
    expect(repoKey('https://gitlab.example.com/group/sub/proj')).toBe(
      'gitlab.example.com/group/sub/proj',
    );
    expect(repoKey('https://other.example.com/group/sub/proj')).not.toBe(
      repoKey('https://gitlab.example.com/group/sub/proj'),
    );
  });

  it('resolves local paths to absolute ones, through symlinks, file:// included', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-repokey-'));
    try {
      await symlink(dir, `${dir}-link`);
      const key = repoKey(dir);
      expect(key).toMatch(/^file:\//);
      expect(repoKey(`${dir}/`)).toBe(key);
      expect(repoKey(`file://${dir}`)).toBe(key);
      expect(repoKey(`${dir}-link`)).toBe(key);
      expect(repoKey(`${dir}/.git`)).toBe(key);
      expect(repoKey('app.git', dir)).toBe(`${key}/app.git`);
      expect(repoKey('./a:b', dir)).toBe(`${key}/a:b`);
    } finally {
      await rm(`${dir}-link`, { force: true });
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  it('a local path is resolved at each question: a link made since is followed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-repokey-'));
    try {
      const before = repoKey(`${dir}-later`);
      expect(before).toBe(`file:${dir}-later`);
      await symlink(dir, `${dir}-later`);
      expect(repoKey(`${dir}-later`)).toBe(repoKey(dir));
    } finally {
      await rm(`${dir}-later`, { force: true });
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  it('remote keys stay right however many URLs were asked about (the remembered ones are bounded)', () => {
    for (let round = 0; round < 2; round++)
      for (let i = 0; i < 3000; i++)
        expect(repoKey(`https://Git.example.com/team/App-${i}.git`)).toBe(
          `git.example.com/team/app-${i}`,
        );
    expect(repoKey('git@github.com:Codertocat/Hello-World.git')).toBe(
      'github.com/codertocat/hello-world',
    );
  });
});
