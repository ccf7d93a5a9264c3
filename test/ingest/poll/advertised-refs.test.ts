import { execFileSync } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { localRepoPath, parseAdvertisement } from '../../../src/ingest/poll/advertised-refs.js';
import { lsRemoteAll, type RemoteHead } from '../../../src/ingest/poll/git-ls-remote.js';
import { git, gitTestEnv, lsRemoteHeads, seededRepo } from '../../../src/testing/git.js';

/**
 * A repository on this machine named by a `file://` URL (or a local path the file reader leaves
 * to git) is asked with one `git upload-pack --advertise-refs` instead of `git ls-remote`'s three
 * processes, and must answer exactly what `git ls-remote --heads` answers. Real git, real
 * repositories; a `git` on PATH that records each invocation shows which command ran.
 */
let dir: string;
let work: string;
let bare: string;
let log: string;
const limits = { connectTimeoutMs: 10_000, stallTimeoutMs: 10_000 };
const realGit = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();

/** What git itself answers for `url` (with the test's global git config, when it set one). */
const gitHeads = (url: string): RemoteHead[] =>
  lsRemoteHeads(url, { ...gitTestEnv, GIT_CONFIG_GLOBAL: process.env.GIT_CONFIG_GLOBAL });

const sorted = (h: readonly RemoteHead[]) => [...h].sort((a, b) => (a.ref < b.ref ? -1 : 1));

/** The git commands nightless ran since the last call (the recording `git`'s log). */
async function gitRuns(): Promise<string[]> {
  const text = await readFile(log, 'utf8').catch(() => '');
  await writeFile(log, '');
  return text.split('\n').filter((l) => l !== '');
}

const path = process.env.PATH;
const globalConfig = process.env.GIT_CONFIG_GLOBAL;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-advertised-'));
  ({ work, bare } = seededRepo(dir, 'repo'));
  git(work, 'branch', 'release/1.0');
  git(work, 'branch', 'größe/ünïcode');
  git(work, 'tag', '-a', '-m', 'v1', 'v1');
  git(work, 'push', '-q', 'origin', '--all');
  git(work, 'push', '-q', 'origin', '--tags');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  log = join(dir, 'git-runs.log');
  await writeFile(
    join(bin, 'git'),
    `#!/bin/sh\nprintf '%s\\n' "$*" >> '${log}'\nexec '${realGit}' "$@"\n`,
  );
  await chmod(join(bin, 'git'), 0o755);
});
afterEach(() => {
  process.env.PATH = path;
  if (globalConfig === undefined) delete process.env.GIT_CONFIG_GLOBAL;
  else process.env.GIT_CONFIG_GLOBAL = globalConfig;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

const recording = async () => {
  process.env.PATH = `${join(dir, 'bin')}:${path ?? ''}`;
  await gitRuns();
};

describe('a repository on this machine asked through upload-pack', () => {
  it('a file:// URL: one upload-pack process, the answer git ls-remote gives (UTF-8 names too)', async () => {
    await recording();
    const heads = await lsRemoteAll(`file://${bare}`, limits);
    expect(await gitRuns()).toEqual([`upload-pack --advertise-refs -- ${bare}`]);
    expect(sorted(heads)).toEqual(sorted(gitHeads(`file://${bare}`)));
    expect(heads.map((h) => h.ref).sort()).toEqual(['größe/ünïcode', 'main', 'release/1.0']);
  });

  it('hideRefs of the repository and of the global git config are honoured, as by ls-remote', async () => {
    const repo = join(dir, 'hidden.git');
    git(dir, 'clone', '-q', '--bare', work, repo);
    git(repo, 'config', 'uploadpack.hideRefs', 'refs/heads/release');
    const global = join(dir, 'global-gitconfig');
    await writeFile(global, '[transfer]\n\thideRefs = refs/heads/größe\n');
    process.env.GIT_CONFIG_GLOBAL = global;
    await recording();
    const heads = await lsRemoteAll(`file://${repo}`, limits);
    expect((await gitRuns())[0]).toMatch(/^upload-pack /);
    expect(heads.map((h) => h.ref)).toEqual(['main']);
    expect(sorted(heads)).toEqual(sorted(gitHeads(`file://${repo}`)));
  });

  it('a local path the file reader leaves to git (a linked worktree) is asked the same way', async () => {
    const wt = join(dir, 'linked');
    git(work, 'worktree', 'add', '-q', '--detach', wt);
    await recording();
    const heads = await lsRemoteAll(wt, limits);
    expect(await gitRuns()).toEqual([`upload-pack --advertise-refs -- ${wt}`]);
    expect(sorted(heads)).toEqual(sorted(gitHeads(wt)));
  });

  it('an empty repository answers no branches', async () => {
    const empty = join(dir, 'empty.git');
    git(dir, 'init', '-q', '--bare', empty);
    expect(await lsRemoteAll(`file://${empty}`, limits)).toEqual([]);
  });

  it('what upload-pack cannot answer goes to git ls-remote: a bundle file answers, a wrong path keeps its error', async () => {
    const bundle = join(dir, 'repo.bundle');
    git(work, 'bundle', 'create', '-q', bundle, '--branches');
    await recording();
    expect(sorted(await lsRemoteAll(bundle, limits))).toEqual(sorted(gitHeads(bundle)));
    expect((await gitRuns()).map((l) => l.split(' ')[0])).toEqual(['upload-pack', '-c']);

    const missing = join(dir, 'no-such-repo');
    await expect(lsRemoteAll(`file://${missing}`, limits)).rejects.toThrow(
      `git ls-remote file://${missing} failed (exit code 128): fatal: '${missing}' does not appear to be a git repository`,
    );
  });

  it('a file:// URL git would rewrite (%-escapes, a host) is left to git ls-remote', async () => {
    await recording();
    const escaped = `file://${bare.replace(/repo\.git$/, 'rep%6f.git')}`;
    expect(sorted(await lsRemoteAll(escaped, limits))).toEqual(sorted(gitHeads(bare)));
    expect(await gitRuns()).toEqual([expect.stringMatching(/ ls-remote --heads -- file:/)]);
    expect(localRepoPath(`file://localhost${bare}`)).toBeNull();
    expect(localRepoPath(`file://${bare}`)).toBe(bare);
    expect(localRepoPath('https://example.invalid/x.git')).toBeNull();
  });
});

/** A pkt-line: its length in bytes (4 hex digits, counting themselves), then the payload. */
const pkt = (payload: string) =>
  `${(Buffer.byteLength(payload) + 4).toString(16).padStart(4, '0')}${payload}`;
const sha = 'a'.repeat(40);

describe('parseAdvertisement', () => {
  it('keeps the branches of an advertisement, skipping HEAD, tags and peeled lines', () => {
    const text =
      pkt(`${sha} HEAD\0multi_ack symref=HEAD:refs/heads/main\n`) +
      pkt(`${sha} refs/heads/main\n`) +
      pkt(`${'b'.repeat(40)} refs/heads/ü\n`) +
      pkt(`${sha} refs/tags/v1\n`) +
      pkt(`${sha} refs/tags/v1^{}\n`) +
      '0000';
    expect(parseAdvertisement(text)).toEqual([
      { ref: 'main', sha },
      { ref: 'ü', sha: 'b'.repeat(40) },
    ]);
  });

  it('a first line of capabilities only (a repository with no refs) is no branch', () => {
    expect(
      parseAdvertisement(`${pkt(`${'0'.repeat(40)} capabilities^{}\0agent=git\n`)}0000`),
    ).toEqual([]);
  });

  it('refuses anything cut short or mis-framed rather than answer part of it', () => {
    const whole = `${pkt(`${sha} refs/heads/main\n`)}${pkt(`${sha} refs/heads/next\n`)}0000`;
    expect(parseAdvertisement(whole)).toHaveLength(2);
    for (let end = 0; end < whole.length; end++)
      expect(parseAdvertisement(whole.slice(0, end))).toBeNull();
    const longer = (Number.parseInt(whole.slice(0, 4), 16) + 1).toString(16).padStart(4, '0');
    expect(parseAdvertisement(longer + whole.slice(4))).toBeNull();
    expect(parseAdvertisement(`${pkt(`${sha.slice(1)}x refs/heads/main\n`)}0000`)).toBeNull();
    expect(parseAdvertisement('fatal: not a git repository\n')).toBeNull();
  });

  it('any set of branch names survives the round trip', () => {
    const name = fc
      .stringMatching(/^[^\s\0^~:?*[\\]{1,30}$/)
      .filter((n) => !n.startsWith('/') && !n.endsWith('/'));
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 20 }), (names) => {
        const heads = names.map((ref, i) => ({ ref, sha: i.toString(16).padStart(40, '0') }));
        const text = heads.map((h) => pkt(`${h.sha} refs/heads/${h.ref}\n`)).join('') + '0000';
        expect(parseAdvertisement(text)).toEqual(heads);
      }),
    );
  });
});
