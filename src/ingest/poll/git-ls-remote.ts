import { stderrSummary } from '../../core/command-stderr.js';
import { matchesAny } from '../../core/glob-match.js';
import { displayUrl } from '../../core/redact.js';
import { runCommand } from './run-command.js';

export interface RemoteHead {
  readonly ref: string;
  readonly sha: string;
}

/**
 * The branch heads of a git repository matching `patterns`, via `git ls-remote --heads`.
 * Works for URLs, local paths and bare repositories. Connects fail fast: ssh gets a connect
 * timeout and never prompts; http transfers below 1 byte/s for `lowSpeedSeconds` abort.
 */
export async function lsRemote(
  url: string,
  patterns: readonly string[],
  timeoutMs: number,
): Promise<RemoteHead[]> {
  return headsMatching(await lsRemoteAll(url, timeoutMs), patterns);
}

/** The branches of `heads` that match `patterns` (the source's `branch`/`branches`). */
export function headsMatching(heads: readonly RemoteHead[], patterns: readonly string[]) {
  return heads.filter((h) => matchesAny(h.ref, patterns));
}

/** Every branch head of the repository: one `git ls-remote` that several sources can share. */
export async function lsRemoteAll(url: string, timeoutMs: number): Promise<RemoteHead[]> {
  const lowSpeed = String(Math.max(1, Math.floor(timeoutMs / 1000)));
  const args = [
    '-c',
    'http.lowSpeedLimit=1',
    '-c',
    `http.lowSpeedTime=${lowSpeed}`,
    'ls-remote',
    '--heads',
    '--',
    url,
  ];
  const connect = Math.max(1, Math.floor(timeoutMs / 2000));
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: `ssh -o BatchMode=yes -o ConnectTimeout=${connect}`,
  };
  const label = `git ls-remote ${displayUrl(url)}`;
  const res = await runCommand('git', args, { timeoutMs, env, label });
  if (res.code !== 0) {
    // git's cause is in its fatal:/remote: lines; its last line is generic advice.
    const cause = stderrSummary(res.stderr) || 'no error output';
    throw new Error(`${label} failed (exit code ${res.code ?? 'none'}): ${cause}`);
  }
  const heads: RemoteHead[] = [];
  for (const line of res.stdout.split('\n')) {
    const [sha, name] = line.split('\t');
    if (!sha || !name?.startsWith('refs/heads/')) continue;
    heads.push({ ref: name.slice('refs/heads/'.length), sha });
  }
  return heads;
}
