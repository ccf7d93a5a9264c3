import type { GitRunner, GitRunResult } from './git-runner.js';

/**
 * The git runs of one server's mirrors, so that stopping the server can kill them and wait:
 * start-early fetches run on their own, and one of a remote that never answers would otherwise
 * go on (up to its stall timeout) writing into a data directory that is being removed.
 */
export class GitRuns {
  private readonly closing = new AbortController();
  private readonly running = new Set<Promise<GitRunResult>>();

  constructor(private readonly inner: GitRunner) {}

  /** {@link GitRunner} through `inner`, killed by {@link close}; fails at once after it. */
  readonly run: GitRunner = (args, options) => {
    const stop = this.closing.signal;
    if (stop.aborted)
      return Promise.resolve({ exitCode: null, stdout: '', stderr: 'stopping', timedOut: false });
    const signal = options.signal ? AbortSignal.any([options.signal, stop]) : stop;
    const r = this.inner(args, { ...options, signal });
    this.running.add(r);
    const forget = (): void => void this.running.delete(r);
    r.then(forget, forget);
    return r;
  };

  /** Kills every run and waits for them to end, at most `timeoutMs`; returns how many had not. */
  async close(timeoutMs = 5_000): Promise<number> {
    this.closing.abort();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'late')));
    // Bounded: no run starts after the abort, so the set only shrinks.
    while (this.running.size > 0)
      if ((await Promise.race([Promise.allSettled([...this.running]), late])) === 'late') break;
    clearTimeout(timer);
    return this.running.size;
  }
}
