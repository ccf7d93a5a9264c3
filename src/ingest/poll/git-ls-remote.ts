import { stderrSummary } from '../../core/command-stderr.js';
import { matchesAny } from '../../core/glob-match.js';
import { DEFAULT_NETWORK_LIMITS, type NetworkLimits } from '../../core/pipeline.js';
import { displayUrl } from '../../core/redact.js';
import { runProcess } from '../../spawn/process-helper.js';
import { advertisedHeads, localRepoPath } from './advertised-refs.js';
import { readLocalHeads } from './local-refs.js';
import { HEADS_OUTPUT_CHARS, type RemoteHead } from './remote-heads.js';

export type { RemoteHead } from './remote-heads.js';

/**
 * The branch heads of a git repository matching `patterns`, via `git ls-remote --heads`.
 * Works for URLs, local paths and bare repositories. Connects fail fast with the pipeline's
 * `network:` limits: ssh gets the connect timeout and never prompts; http transfers below
 * 1 byte/s for the stall time abort; the whole command ends after connect + stall.
 */
export async function lsRemote(
  url: string,
  patterns: readonly string[],
  limits: LsRemoteLimits,
): Promise<RemoteHead[]> {
  return headsMatching(await lsRemoteAll(url, limits), patterns);
}

/** The pipeline's `network:` limits, and optionally a tighter overall bound (tests). */
export interface LsRemoteLimits extends NetworkLimits {
  readonly timeoutMs?: number;
}

/** A fallback check's limits: the pipeline's `network:`, connect + stall overall (or `tighterMs`). */
export function pollLimits(
  network: NetworkLimits | undefined,
  tighterMs: number | undefined,
): LsRemoteLimits & { readonly timeoutMs: number } {
  const n = network ?? DEFAULT_NETWORK_LIMITS;
  const overall = n.connectTimeoutMs + n.stallTimeoutMs;
  return { ...n, timeoutMs: Math.min(tighterMs ?? overall, overall) };
}

/** The branches of `heads` that match `patterns` (the source's `branch`/`branches`). */
export function headsMatching(heads: readonly RemoteHead[], patterns: readonly string[]) {
  return heads.filter((h) => matchesAny(h.ref, patterns));
}

/**
 * Every branch head of the repository: one `git ls-remote` that several sources can share. A
 * repository on this machine is asked more cheaply for the same answer: a local path with the
 * plain layout is read from its files (`local-refs.ts`, no process); any other local path or
 * `file:///` URL is asked with one upload-pack process instead of ls-remote's three
 * (`advertised-refs.ts`). Only when that fails does ls-remote run, for its answer or its error.
 */
export async function lsRemoteAll(url: string, limits: LsRemoteLimits): Promise<RemoteHead[]> {
  // ls-remote's answer is small: a remote that connects and then stalls for the stall time is
  // as dead as one that never connects, so connect + stall bounds the whole command.
  const timeoutMs = Math.min(
    limits.timeoutMs ?? Infinity,
    limits.connectTimeoutMs + limits.stallTimeoutMs,
  );
  const local = await readLocalHeads(url, timeoutMs);
  if (local !== null) return local;
  const path = localRepoPath(url);
  const advertised = path === null ? null : await advertisedHeads(path, timeoutMs);
  if (advertised !== null) return advertised;
  const lowSpeed = String(seconds(limits.stallTimeoutMs));
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
  const connect = seconds(limits.connectTimeoutMs);
  const env = {
    ...process.env,
    GIT_TERMINAL_PROMPT: '0',
    GIT_SSH_COMMAND: `ssh -o BatchMode=yes -o ConnectTimeout=${connect}`,
  };
  const label = `git ls-remote ${displayUrl(url)}`;
  // Spawned by the spawn helper, not the server: 1,000 repositories are 1,000 processes a round,
  // and each fork of the server blocks its event loop (`spawn/process-helper.ts`).
  const res = await runProcess({
    file: 'git',
    args,
    env,
    timeoutMs,
    maxOutputChars: HEADS_OUTPUT_CHARS,
  });
  if (res.timedOut) throw new Error(`${label} timed out after ${timeoutMs} ms`);
  if (res.error !== null) throw new Error(`${label} failed: ${res.error}`);
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

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}
