import { stderrSummary } from '../core/command-stderr.js';
import type { GitRunResult } from './git-runner.js';
import { RunError } from './run-error.js';

/** What the merge needs of the mirrors (`GitMirrors`). */
export interface MergeGit {
  readonly localTimeoutMs: number;
  git(args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<GitRunResult>;
}

/**
 * Merges `tip`, the target branch's commit (`null`: the branch is gone), into the checkout at
 * `dest`: the merge result of a change request (`checkout: merge`). Returns `tip`. A conflict
 * throws `RunError('checkout')` naming the target: the request does not merge.
 */
export async function mergeTip(
  g: MergeGit,
  opts: { tip: string | null; dest: string; target: string; url: string; signal?: AbortSignal },
): Promise<string> {
  const { tip, target } = opts;
  if (tip === null)
    throw new RunError(
      'checkout',
      `target branch ${JSON.stringify(target)} not found in ${opts.url}`,
    );
  const id = ['-c', 'user.name=nightless', '-c', 'user.email=nightless@localhost'];
  const r = await g.git(
    ['-C', opts.dest, ...id, 'merge', '--no-edit', '--no-ff', '--quiet', tip],
    g.localTimeoutMs,
    opts.signal,
  );
  if (r.exitCode !== 0)
    throw new RunError(
      'checkout',
      `the change request does not merge cleanly into ${target} (${tip.slice(0, 12)}): ${stderrSummary(r.stderr) || stderrSummary(r.stdout) || `exit code ${r.exitCode ?? 'none'}`}`,
    );
  return tip;
}
