import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { looseCommitParents } from '../../src/executor/loose-object.js';
import { git, makeRepo, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

describe('looseCommitParents', () => {
  it("reads a loose commit's parents as git does; packed, non-commit and absent objects are null", async () => {
    const repo = await tmp.make();
    const [c1, c2] = makeRepo(repo, [{ 'a.txt': '1\n' }, { 'a.txt': '2\n' }]);
    git(repo, 'checkout', '--quiet', '-b', 'side', c1!);
    const [s1] = makeRepo(repo, [{ 'b.txt': 'side\n' }]);
    git(repo, 'checkout', '--quiet', 'main');
    git(repo, 'merge', '--quiet', '--no-edit', 'side');
    const merge = git(repo, 'rev-parse', 'HEAD');
    const gitDir = join(repo, '.git');
    expect(await looseCommitParents(gitDir, c1!)).toEqual([]);
    expect(await looseCommitParents(gitDir, c2!)).toEqual([c1]);
    expect(await looseCommitParents(gitDir, merge)).toEqual(
      git(repo, 'rev-parse', 'HEAD^1', 'HEAD^2').split('\n'),
    );
    expect(await looseCommitParents(gitDir, merge)).toContain(s1);
    const tree = git(repo, 'rev-parse', 'HEAD^{tree}');
    expect(await looseCommitParents(gitDir, tree)).toBeNull();
    expect(await looseCommitParents(gitDir, '0'.repeat(40))).toBeNull();
    expect(await looseCommitParents(gitDir, c2!.slice(0, 12))).toBeNull();
    git(repo, 'gc', '--quiet', '--prune=now');
    expect(await looseCommitParents(gitDir, c2!)).toBeNull();
  });
});
