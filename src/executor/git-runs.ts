import type { GitHolder, GitRunner, GitRunResult, HeldGit } from './git-runner.js';

/**
 * The git runs of one server's mirrors, so that stopping the server can kill them and wait:
 * start-early fetches run on their own, and one of a remote that never answers would otherwise
 * go on (up to its stall timeout) writing into a data directory that is being removed.
 */
export class GitRuns {
  private closed = false;
  /** Each run's abort (see `signal`), by its answer. */
  private readonly running = new Map<Promise<GitRunResult>, AbortController>();

  /** Held commands not yet released (`hold`): discarded by {@link close}. */
  private readonly held = new Set<HeldGit>();

  /** Discarded held commands whose git has not ended yet: {@link close} waits for them too. */
  private readonly ending = new Set<Promise<void>>();

  constructor(
    private readonly inner: GitRunner,
    private readonly holder?: GitHolder,
  ) {}

  /** {@link GitRunner} through `inner`, killed by {@link close}; fails at once after it. */
  readonly run: GitRunner = (args, options) => {
    if (this.closed)
      return Promise.resolve({ exitCode: null, stdout: '', stderr: 'stopping', timedOut: false });
    const own = new AbortController();
    const r = this.inner(args, { ...options, signal: this.signal(own, options.signal) });
    return this.track(r, own);
  };

  /**
   * {@link GitHolder} through the `holder` given, if any; once released, a run like those of
   * {@link run}. `undefined` without a holder, and after {@link close}.
   */
  hold(...[args, options]: Parameters<GitHolder>): HeldGit | undefined {
    const holder = this.holder;
    if (this.closed || holder === undefined) return undefined;
    const held = holder(args, options);
    this.held.add(held);
    return {
      release: (signal, onTicket) => {
        if (!this.held.delete(held)) return undefined;
        const own = new AbortController();
        const r = held.release(this.signal(own, signal), onTicket);
        return r === undefined ? undefined : this.track(r, own);
      },
      discard: () => {
        this.held.delete(held);
        return this.end(held);
      },
    };
  }

  private end(held: HeldGit): Promise<void> {
    const ended = held.discard();
    this.ending.add(ended);
    void ended.then(() => this.ending.delete(ended));
    return ended;
  }

  /** Each run's own abort: a shared signal would collect a listener per run for the server's life. */
  private signal(own: AbortController, caller: AbortSignal | undefined): AbortSignal {
    return caller ? AbortSignal.any([caller, own.signal]) : own.signal;
  }

  private track(r: Promise<GitRunResult>, own: AbortController): Promise<GitRunResult> {
    this.running.set(r, own);
    const forget = (): void => void this.running.delete(r);
    r.then(forget, forget);
    return r;
  }

  /**
   * Kills every run and every held git, and waits for them to end (discarded ones included), at
   * most `timeoutMs`; returns how many had not.
   */
  async close(timeoutMs = 5_000): Promise<number> {
    this.closed = true;
    for (const held of this.held) void this.end(held);
    this.held.clear();
    for (const own of this.running.values()) own.abort();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(resolve, timeoutMs, 'late')));
    const left = (): number => this.running.size + this.ending.size;
    // Bounded: nothing starts or is held after `closed`, so both sets only shrink.
    while (left() > 0) {
      const all = Promise.allSettled([...this.running.keys(), ...this.ending]);
      if ((await Promise.race([all, late])) === 'late') break;
    }
    clearTimeout(timer);
    return left();
  }
}
