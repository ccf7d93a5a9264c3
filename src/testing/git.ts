import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A fixed identity and `init.defaultBranch=main`, so tests commit and create repositories the
 * same way on machines with no git configuration (or another default branch).
 */
export const gitTestEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@x',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@x',
  GIT_CONFIG_COUNT: '1',
  GIT_CONFIG_KEY_0: 'init.defaultBranch',
  GIT_CONFIG_VALUE_0: 'main',
};

/**
 * Runs `git ARGS` in `cwd` (argument array, no shell) and returns its trimmed output; a failure
 * throws with git's stderr in the error instead of printing it.
 */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    env: gitTestEnv,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

export interface SeededRepo {
  /** A working repository with one commit on `main` (a README), `origin` pointing at `bare`. */
  readonly work: string;
  /** The bare repository a pipeline's `git:` names. */
  readonly bare: string;
  /** The commit both hold. */
  readonly commit: string;
}

/** `<root>/<name>-work` and `<root>/<name>.git` with one commit: the repository most tests need. */
export function seededRepo(root: string, name = 'app'): SeededRepo {
  const work = join(root, `${name}-work`);
  const bare = join(root, `${name}.git`);
  git(root, 'init', '-q', work);
  writeFileSync(join(work, 'README'), 'hello\n');
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', 'first');
  git(root, 'clone', '-q', '--bare', work, bare);
  git(work, 'remote', 'add', 'origin', bare);
  return { work, bare, commit: git(work, 'rev-parse', 'HEAD') };
}

/**
 * What `git ls-remote --heads URL` answers, as branch names (no `refs/heads/`) and commits: the
 * reference answer for nightless's own ways of reading a repository's heads. `env`: git's
 * environment (by default the tests' one: the PATH the tests started with, whatever PATH a
 * test has set since).
 */
export function lsRemoteHeads(
  url: string,
  env: NodeJS.ProcessEnv = gitTestEnv,
): Array<{ ref: string; sha: string }> {
  return execFileSync('git', ['ls-remote', '--heads', '--', url], { env, encoding: 'utf8' })
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => {
      const [sha = '', name = ''] = l.split('\t');
      return { ref: name.slice('refs/heads/'.length), sha };
    });
}
