import type { NetworkLimits } from '../core/pipeline.js';
import type { HeldGit } from './git-runner.js';

/** When fetches are armed, how many, for how long; tests shorten them. */
export interface ArmTiming {
  /** After a fetch of a mirror ends, the next one is armed this much later. */
  readonly delayMs: number;
  /** An armed fetch not taken within this long is ended. */
  readonly idleMs: number;
  /** Armed fetches at most: the mirror fetched longest ago gives up its own. */
  readonly max: number;
}

/**
 * The delay keeps the arming out of the start of the build that the fetch just served (its
 * checkout and first step start within ~10 ms of it, on the same CPUs). An armed git waits on a
 * pipe: no CPU, ~4 MB of memory.
 */
export const DEFAULT_ARM_TIMING: ArmTiming = { delayMs: 50, idleMs: 10 * 60_000, max: 8 };

/** What arming needs of `GitMirrors`. */
export interface ArmDeps {
  /** Starts the mirror's branch fetch, held (`fetch --stdin`: it starts up, then waits). */
  readonly hold: (mirror: string, network: NetworkLimits) => HeldGit | undefined;
  /** The network limits a fetch starting now gets (the pipeline's `network:`). */
  readonly limits: () => NetworkLimits;
}

interface Armed {
  readonly held: HeldGit;
  readonly network: NetworkLimits;
  readonly expiry: NodeJS.Timeout;
}

/**
 * A branch fetch started ahead for each of the mirrors fetched most recently: `git fetch
 * --stdin`, which starts up (exec, configuration) and then waits for its stdin. The next fetch
 * of that mirror closes the stdin instead of starting git, which takes git's start-up (the
 * helper's `spawn()`, git's exec and configuration: 1.5–2 ms p50 a fetch on the CI machine,
 * ~3 ms p90) off the path from a push to its build. Armed only
 * after a fetch of the mirror succeeded, never more than `max`, never kept past `idleMs`.
 */
export class ArmedFetches {
  /** By mirror, the one armed longest ago first. */
  private readonly armed = new Map<string, Armed>();
  private readonly waiting = new Map<string, NodeJS.Timeout>();
  private closed = false;

  constructor(
    private readonly deps: ArmDeps,
    private readonly timing: ArmTiming = DEFAULT_ARM_TIMING,
  ) {}

  /**
   * The fetch armed for `mirror`, taken (released or discarded by the caller), if it was armed
   * with the network limits of now; one armed with others is ended.
   */
  take(mirror: string): HeldGit | undefined {
    const a = this.armed.get(mirror);
    if (a === undefined) return undefined;
    this.armed.delete(mirror);
    clearTimeout(a.expiry);
    if (a.network === this.deps.limits()) return a.held;
    void a.held.discard();
    return undefined;
  }

  /** A fetch of `mirror` succeeded: the next one is armed after `delayMs`. */
  fetched(mirror: string): void {
    if (this.closed || this.armed.has(mirror) || this.waiting.has(mirror)) return;
    const timer = setTimeout(() => {
      this.waiting.delete(mirror);
      this.arm(mirror);
    }, this.timing.delayMs);
    timer.unref();
    this.waiting.set(mirror, timer);
  }

  /** The mirror is going away (removed, cloned again): what is armed for it is ended. */
  drop(mirror: string): void {
    clearTimeout(this.waiting.get(mirror));
    this.waiting.delete(mirror);
    const a = this.armed.get(mirror);
    if (a === undefined) return;
    this.armed.delete(mirror);
    clearTimeout(a.expiry);
    void a.held.discard();
  }

  /** Ends every armed fetch and arms no more. Safe to call twice. */
  close(): void {
    this.closed = true;
    for (const mirror of [...this.waiting.keys(), ...this.armed.keys()]) this.drop(mirror);
  }

  /** How many are armed (tests, benchmarks). */
  get size(): number {
    return this.armed.size;
  }

  private arm(mirror: string): void {
    if (this.closed || this.armed.has(mirror)) return;
    const network = this.deps.limits();
    const held = this.deps.hold(mirror, network);
    if (held === undefined) return;
    const oldest = this.armed.keys().next();
    if (this.armed.size >= this.timing.max && oldest.done !== true) this.drop(oldest.value);
    const expiry = setTimeout(() => this.drop(mirror), this.timing.idleMs);
    expiry.unref();
    this.armed.set(mirror, { held, network, expiry });
  }
}
