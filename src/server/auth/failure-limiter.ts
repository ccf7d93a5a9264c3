/**
 * Slows down guessing: after `maxFailures` failed authentications from one address within
 * `windowMs`, that address is refused (429 with `Retry-After`) until the window has passed.
 * Memory is bounded: at most `maxAddresses` addresses are tracked, the oldest dropped first.
 */
export class FailureLimiter {
  private readonly failures = new Map<string, { count: number; windowStart: number }>();

  constructor(
    private readonly opts: {
      readonly maxFailures: number;
      readonly windowMs: number;
      readonly maxAddresses?: number;
    },
  ) {}

  /** Milliseconds the address must wait, or 0 when it may try. */
  blockedFor(address: string, now: number): number {
    const f = this.failures.get(address);
    if (!f) return 0;
    const until = f.windowStart + this.opts.windowMs;
    if (now >= until) {
      this.failures.delete(address);
      return 0;
    }
    return f.count >= this.opts.maxFailures ? until - now : 0;
  }

  recordFailure(address: string, now: number): void {
    const f = this.failures.get(address);
    if (f && now < f.windowStart + this.opts.windowMs) {
      f.count += 1;
      return;
    }
    this.failures.delete(address);
    if (this.failures.size >= (this.opts.maxAddresses ?? 10_000)) {
      const oldest = this.failures.keys().next();
      if (!oldest.done) this.failures.delete(oldest.value);
    }
    this.failures.set(address, { count: 1, windowStart: now });
  }
}
