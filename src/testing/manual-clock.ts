/**
 * A clock that moves only when told: pass `clock.now` wherever a `now: () => number` is
 * injected (the scheduler, the engine). Time never goes backwards.
 */
export class ManualClock {
  private t: number;

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.t = start;
  }

  /** Current time in epoch ms; a bound function, safe to pass around. */
  readonly now = (): number => this.t;

  /** Moves time forward by `ms` (≥ 0) and returns the new time. */
  advance(ms: number): number {
    if (!(ms >= 0)) throw new RangeError(`a clock only moves forward (got ${ms} ms)`);
    this.t += ms;
    return this.t;
  }

  /** Jumps to `at`; refuses to go back. */
  set(at: number): void {
    if (at < this.t) throw new RangeError(`a clock only moves forward (${at} < ${this.t})`);
    this.t = at;
  }
}
