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
});
