import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shownAbsent } from '../../src/executor/object-absence.js';
import { tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

const git = (cwd: string, ...args: string[]): string =>
  execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim();

/** A bare repository of `n` commits (one file changed each), and every object id in it. */
async function bareRepo(n: number, format = 'sha1'): Promise<{ bare: string; objects: string[] }> {
  const work = await tmp.make();
  git(work, 'init', '--quiet', `--object-format=${format}`, '--initial-branch=main');
  for (let i = 0; i < n; i++) {
    writeFileSync(join(work, `f${i % 7}.txt`), `${i}\n`);
    git(work, 'add', '-A');
    git(work, 'commit', '--quiet', '-m', `c${i}`);
  }
  const bare = join(await tmp.make(), 'm.git');
  git(work, 'clone', '--quiet', '--bare', '--no-local', work, bare);
  const objects = git(bare, 'rev-list', '--all', '--objects')
    .split('\n')
    .map((l) => l.split(' ')[0] as string);
  return { bare, objects };
}

/** Ids no repository here holds: every object's id with its last hex digit changed. */
const others = (objects: readonly string[]): string[] =>
  objects
    .map((o) => o.slice(0, -1) + (o.endsWith('0') ? '1' : '0'))
    .filter((o) => !objects.includes(o));

describe('shownAbsent (an object looked up in a mirror without git)', () => {
  it('every object of a packed repository is found, ids it lacks are shown absent', async () => {
    const { bare, objects } = await bareRepo(60);
    git(bare, 'gc', '--quiet');
    expect(objects.length).toBeGreaterThan(150);
    for (const o of objects) expect(await shownAbsent(bare, o)).toBe(false);
    for (const o of others(objects)) expect(await shownAbsent(bare, o)).toBe(true);
    // The first and last fan-out buckets, where the search bounds are edge cases.
    expect(await shownAbsent(bare, '0'.repeat(40))).toBe(true);
    expect(await shownAbsent(bare, 'f'.repeat(40))).toBe(true);
  });

  it('loose objects and several packs are looked in; SHA-256 repositories too', async () => {
    const { bare, objects } = await bareRepo(5);
    git(bare, 'repack', '--quiet', '-d'); // one pack
    const work = await tmp.make();
    git(work, 'clone', '--quiet', bare, '.');
    const push = (n: number): string => {
      writeFileSync(join(work, 'new.txt'), `${n}\n`);
      git(work, 'add', '-A');
      git(work, 'commit', '--quiet', '-m', `n${n}`);
      git(work, 'push', '--quiet', 'origin', 'HEAD:main');
      return git(work, 'rev-parse', 'HEAD');
    };
    git(bare, 'config', 'receive.unpackLimit', '1');
    const packed = push(1); // kept as a second pack
    git(bare, 'config', 'receive.unpackLimit', '100');
    const loose = push(2); // a push of a few objects is unpacked loose
    const packs = git(bare, 'count-objects', '-v');
    expect(packs).toMatch(/^packs: 2$/m);
    expect(packs).not.toMatch(/^count: 0$/m);
    for (const o of [packed, loose, ...objects]) expect(await shownAbsent(bare, o)).toBe(false);
    for (const o of others([packed, loose, ...objects]))
      expect(await shownAbsent(bare, o)).toBe(true);

    const sha256 = await bareRepo(20, 'sha256');
    git(sha256.bare, 'gc', '--quiet');
    expect(sha256.objects[0]).toHaveLength(64);
    for (const o of sha256.objects) expect(await shownAbsent(sha256.bare, o)).toBe(false);
    for (const o of others(sha256.objects)) expect(await shownAbsent(sha256.bare, o)).toBe(true);
  });

  it('a repository borrowing objects (alternates), or no repository, shows nothing absent', async () => {
    const { bare } = await bareRepo(2);
    const borrower = join(await tmp.make(), 'b.git');
    git(bare, 'clone', '--quiet', '--bare', '--shared', bare, borrower);
    expect(await shownAbsent(borrower, 'e'.repeat(40))).toBe(false);
    expect(await shownAbsent(join(bare, 'nope'), 'e'.repeat(40))).toBe(false);
    expect(await shownAbsent(bare, 'e'.repeat(39))).toBe(false);
  });
});
