import type { GitRunner, GitRunResult } from './git-runner.js';

/**
 * The git runs of one server's mirrors, so that stopping the server can kill them and wait:
 * start-early fetches run on their own, and one of a remote that never answers would otherwise
 * go on (up to its stall timeout) writing into a data directory that is being removed.
 */
export class GitRuns {
  private closed = false;
  /** Each run's own abort: a shared signal would collect a listener per run for the server's life. */
  private readonly running = new Map<Promise<GitRunResult>, AbortController>();

  constructor(private readonly inner: GitRunner) {}

  /** {@link GitRunner} through `inner`, killed by {@link close}; fails at once after it. */
  readonly run: GitRunner = (args, options) => {
    if (this.closed)
      return Promise.resolve({ exitCode: null, stdout: '', stderr: 'stopping', timedOut: false });
    const own = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, own.signal]) : own.signal;
    const r = this.inner(args, { ...options, signal });
    this.running.set(r, own);
    const forget = (): void => void this.running.delete(r);
    r.then(forget, forget);
    return r;
  };

  /** Kills every run and waits for them to end, at most `timeoutMs`; returns how many had not. */
  async close(timeoutMs = 5_000): Promise<number> {
    this.closed = true;
    for (const own of this.running.values()) own.abort();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'late')));
    // Bounded: no run starts after the abort, so the set only shrinks.
    while (this.running.size > 0)
      if ((await Promise.race([Promise.allSettled([...this.running.keys()]), late])) === 'late')
        break;
    clearTimeout(timer);
    return this.running.size;
  }
}
