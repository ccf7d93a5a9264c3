import { stderrSummary } from '../core/command-stderr.js';
import { isNetworkFailure } from '../core/network-failure.js';
import type { GitRunResult } from './git-runner.js';
import { RunError } from './run-error.js';

// What the mirrors make of git's answers and write into git's files: pure text, no processes.

/**
 * The error of a failed clone/fetch: `network` when the remote could not be reached or stopped
 * answering (stalled, refused, reset, DNS, too slow), `disk` when the mirror could not be
 * written, else `checkout` (the remote answered no: unknown repository, credentials refused).
 */
export function remoteError(
  r: GitRunResult,
  what: string,
  url: string,
  timeoutMs: number,
): RunError {
  const detail = r.stalled
    ? 'stalled: the remote sent nothing within the network limits'
    : r.timedOut
      ? `timed out after ${Math.round(timeoutMs / 1000)}s`
      : stderrSummary(r.stderr) || `exit code ${r.exitCode ?? 'none'}`;
  const message = `git ${what} of ${url} failed: ${detail}`;
  if (/no space left on device/i.test(r.stderr)) return new RunError('disk', message);
  if (r.stalled === true || r.timedOut || isNetworkFailure(r.stderr))
    return new RunError('network', message);
  return new RunError('checkout', message);
}

/** Files nightless writes into the workspace: they must not show up in `git status`. */
export const EXCLUDES = '/.nightless/\n/nightless-inputs.json\n';
/** What `git remote add origin <url>` writes. */
export function remoteConfig(url: string): string {
  return `[remote "origin"]\n\turl = ${configValue(url)}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`;
}

/** A git config value, quoted: `\\`, `"` and control characters escaped, `#`/`;` kept literal. */
function configValue(v: string): string {
  const escaped = v
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\t/g, '\\t')
    .replace(/\x08/g, '\\b');
  return `"${escaped}"`;
}

/** `-z` name output → paths; `null` when git failed or the output was cut at the capture limit. */
export function pathList(r: GitRunResult): string[] | null {
  if (r.exitCode !== 0 || r.stdout.length >= 60 * 1024) return null;
  return r.stdout.split('\0').filter((p) => p !== '');
}

export function lastLine(s: string): string {
  const lines = s.trim().split('\n');
  return (lines[lines.length - 1] ?? '').trim();
}
