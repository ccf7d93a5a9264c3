import { isNetworkFailure } from '../core/network-failure.js';
import { stderrSummary } from '../core/command-stderr.js';
import type { GitRunResult } from './git-runner.js';
import { RunError } from './run-error.js';

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
