import { execFileSync } from 'node:child_process';

/** A fixed identity, so tests commit on machines with no git configuration. */
export const gitTestEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 't',
  GIT_AUTHOR_EMAIL: 't@x',
  GIT_COMMITTER_NAME: 't',
  GIT_COMMITTER_EMAIL: 't@x',
};

/** Runs `git ARGS` in `cwd` (argument array, no shell) and returns its trimmed output. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, env: gitTestEnv, encoding: 'utf8' }).trim();
}
