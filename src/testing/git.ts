import { execFileSync } from 'node:child_process';

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
