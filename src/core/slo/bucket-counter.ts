import type { Counts } from './slo-math.js';

/**
 * Good/bad counts in fixed time buckets over a bounded horizon, so a window's counts are a sum
 * over at most `horizon / bucket` buckets — never a scan of history. Adding is O(1); old buckets
 * are recycled as time moves on (a ring). Times are epoch ms, injected: no clock here.
 *
 * An event older than the horizon, or later than the newest bucket by more than the horizon,
 * moves the ring accordingly; events are expected roughly in time order (late by at most the
 * horizon).
 */
export class BucketCounter {
  private readonly good: Float64Array;
  private readonly bad: Float64Array;
  /** Bucket index (time / bucketMs) each slot holds; -1 when empty. */
  private readonly slotOf: Float64Array;
  readonly size: number;

  constructor(
    readonly bucketMs: number,
    readonly horizonMs: number,
  ) {
    if (!(bucketMs > 0) || !(horizonMs >= bucketMs))
      throw new Error(`invalid buckets: ${bucketMs} ms over ${horizonMs} ms`);
    this.size = Math.ceil(horizonMs / bucketMs) + 1;
    this.good = new Float64Array(this.size);
    this.bad = new Float64Array(this.size);
    this.slotOf = new Float64Array(this.size).fill(-1);
  }

  add(at: number, good: boolean, n = 1): void {
    const idx = Math.floor(at / this.bucketMs);
    const slot = idx % this.size;
    if (this.slotOf[slot] !== idx) {
      // Older than what the slot holds: beyond the horizon, dropped.
      if (this.slotOf[slot]! > idx) return;
      this.slotOf[slot] = idx;
      this.good[slot] = 0;
      this.bad[slot] = 0;
    }
    if (good) this.good[slot]! += n;
    else this.bad[slot]! += n;
  }

  /** Counts of events in (now − windowMs, now], to bucket precision. */
  counts(now: number, windowMs: number): Counts {
    const last = Math.floor(now / this.bucketMs);
    const n = Math.min(this.size - 1, Math.ceil(windowMs / this.bucketMs));
    let good = 0;
    let bad = 0;
    for (let idx = last - n + 1; idx <= last; idx++) {
      const slot = ((idx % this.size) + this.size) % this.size;
      if (this.slotOf[slot] !== idx) continue;
      good += this.good[slot]!;
      bad += this.bad[slot]!;
    }
    return { good, bad };
  }
}
