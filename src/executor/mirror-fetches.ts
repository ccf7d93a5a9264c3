import { isNetworkFailure } from '../core/network-failure.js';
import type { RunTicket } from '../spawn/process-helper.js';
import type { NetworkLimits } from '../core/pipeline.js';
import { ArmedFetches, type ArmTiming } from './armed-fetches.js';
import type { GitRunResult, HeldGit } from './git-runner.js';
import { shownAbsent } from './object-absence.js';
import { remoteError } from './remote-error.js';
import { RunError } from './run-error.js';

/** What the fetches need of `GitMirrors`. */
export interface FetchDeps {
  /** A command that talks to the remote (network limits), never rejecting on its exit code. */
  readonly remoteGit: (args: readonly string[], signal?: AbortSignal) => Promise<GitRunResult>;
  /** The same, throwing `remoteError` when it fails (`GitMirrors.expectRemote`). */
  readonly expectRemote: (
    args: readonly string[],
    what: string,
    url: string,
    signal?: AbortSignal,
    onTicket?: (ticket: RunTicket) => void,
  ) => Promise<GitRunResult>;
  readonly resolveCommit: (
    mirror: string,
    sha: string,
    signal?: AbortSignal,
  ) => Promise<string | null>;
  /** Told after every fetch, failed or not (`MirrorMaintenance.fetched`). */
  readonly fetched: (mirror: string) => void;
  /** Starts a command ahead of its run (`GitRuns.hold`); `undefined` when it cannot. */
  readonly hold: (args: readonly string[], network: NetworkLimits) => HeldGit | undefined;
  /** The network limits a fetch starting now gets (the pipeline's `network:`). */
  readonly limits: () => NetworkLimits;
  readonly arming?: ArmTiming | undefined;
  readonly networkTimeoutMs: number;
}

/**
 * The fetches into the mirrors: the branches (`fetch --prune origin`), then a commit by id when
 * they did not bring it. Knows when the newest branch fetch of each mirror started, and the one
 * running in each, for a checkout to follow (`GitRunOptions.after`).
 */
export class MirrorFetches {
  /** When the newest fetch of each mirror started: it shows every commit pushed before then. */
  private readonly startedAt = new Map<string, number>();
  /** The branch fetch running in each mirror, when the git runner hands out tickets. */
  private readonly running = new Map<string, RunTicket>();

  /** Branch fetches started ahead of the next push. */
  readonly armed: ArmedFetches;

  constructor(private readonly deps: FetchDeps) {
    const { hold, limits } = deps;
    this.armed = new ArmedFetches(
      { hold: (mirror, network) => hold(branchFetchArgs(mirror, true), network), limits },
      deps.arming,
    );
  }

  /** The server stops: what is armed is ended, and nothing more armed. */
  close(): void {
    this.armed.close();
  }

  /** `mirror` is gone (it is cloned again): what is armed for it is ended. */
  forget(mirror: string): void {
    this.armed.drop(mirror);
  }

  /** Fetches until `sha` resolves in `mirror` and returns the full id, or throws `RunError`. */
  async fetchUntilFound(
    url: string,
    mirror: string,
    sha: string,
    signal?: AbortSignal,
  ): Promise<string> {
    const { deps } = this;
    await this.fetchBranches(url, mirror, signal);
    // A commit the fetch did not bring is shown absent from the object store, without a process
    // (pushes announced before the forge serves them, or never served, come in bursts).
    let commit = (await shownAbsent(mirror, sha))
      ? null
      : await deps.resolveCommit(mirror, sha, signal);
    if (commit === null && sha.length >= 40) {
      // Not on any branch any more (force-pushed away)? Servers allowing it serve it by id.
      const r = await deps.remoteGit(
        ['--git-dir', mirror, 'fetch', '--no-auto-maintenance', '--progress', 'origin', sha],
        signal,
      );
      deps.fetched(mirror);
      // A server that refuses fetches by id says so and the commit is simply not found; a
      // network failure here is still a network failure.
      if (r.exitCode !== 0 && (r.stalled === true || isNetworkFailure(r.stderr)))
        throw remoteError(r, 'fetch', url, deps.networkTimeoutMs);
      if (r.exitCode === 0) commit = await deps.resolveCommit(mirror, sha, signal);
    }
    if (commit === null) throw new RunError('checkout', `commit ${sha} not found in ${url}`);
    return commit;
  }

  /**
   * `git fetch --prune origin` into `mirror` — the one armed for it if there is one (see
   * `ArmedFetches`) — and throws `RunError` when it fails.
   */
  async fetchBranches(url: string, mirror: string, signal?: AbortSignal): Promise<void> {
    const { deps } = this;
    this.startedAt.set(mirror, Date.now());
    let ticket: RunTicket | undefined;
    const onTicket = (t: RunTicket): void => {
      ticket = t;
      this.running.set(mirror, t);
    };
    try {
      const armed = this.armed.take(mirror)?.release(signal, onTicket);
      if (armed === undefined)
        await deps.expectRemote(branchFetchArgs(mirror), 'fetch', url, signal, onTicket);
      else {
        const r = await armed;
        if (r.exitCode !== 0) throw remoteError(r, 'fetch', url, deps.networkTimeoutMs);
      }
      this.armed.fetched(mirror);
    } finally {
      if (ticket !== undefined && this.running.get(mirror) === ticket) this.running.delete(mirror);
      deps.fetched(mirror);
    }
  }

  /** The branch fetch running in `mirror`, if its ticket is known. */
  runningIn(mirror: string): RunTicket | undefined {
    return this.running.get(mirror);
  }

  /** When the newest branch fetch of `mirror` started, or 0. */
  lastStart(mirror: string): number {
    return this.startedAt.get(mirror) ?? 0;
  }
}

/**
 * The branch fetch of `mirror`; `stdin`: with `--stdin`, which reads refspecs from stdin before
 * doing anything else — none, when the stdin is closed, so the mirror's own — to be armed.
 * Git's maintenance runs later, off the path from a push to its build (`MirrorMaintenance`).
 */
export function branchFetchArgs(mirror: string, stdin = false): string[] {
  const args = ['--git-dir', mirror, 'fetch', '--no-auto-maintenance', '--prune', '--progress'];
  return [...args, ...(stdin ? ['--stdin'] : []), 'origin'];
}
