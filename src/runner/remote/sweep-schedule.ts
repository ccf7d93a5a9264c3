export interface SweepScheduleOptions {
  readonly checkMs: number;
  readonly idleMs: number;
  /**
   * One sweep; `outage`: leases could not be renewed since the last one. Resolves whether any
   * build holds a lease now; rejects when the database was out of reach.
   */
  readonly pass: (outage: boolean) => Promise<boolean>;
  /** A pass that rejected (already counted as an outage for the next). */
  readonly failed: (err: unknown) => void;
}

/**
 * When the lease sweep runs: every `checkMs` while any build holds a lease, every `idleMs` while
 * none does (nothing can expire then, and waking an idle server every second costs CPU for
 * nothing). A lease taken or renewed here brings the short period back at once; one taken through
 * another replica is seen by the next sweep, which `idleMs` (at most a third of a lease) makes
 * come well before that lease could end.
 *
 * It also tells a pass whether the database was out of reach since the last one that reached it
 * (a failed pass) or the process stalled (a pass starting more than two short periods after it
 * was due): no heartbeat could renew a lease meanwhile either, so the pass extends them all first.
 */
export class SweepSchedule {
  private timer: NodeJS.Timeout | null = null;
  /** When the pending pass is due; a stall is measured from there. */
  private dueAt = 0;
  /** Whether any build held a lease at the last pass (or one was taken here since). */
  private anyLease = true;
  private running = false;
  private failedLast = false;
  private stopped = false;

  constructor(private readonly opts: SweepScheduleOptions) {
    this.passIn(opts.checkMs);
  }

  /** A lease was taken or renewed here: sweep at the short period from now on. */
  leaseTaken(): void {
    this.anyLease = true;
    this.passIn(this.opts.checkMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Schedules the next pass `ms` from now, unless one is due sooner. */
  private passIn(ms: number): void {
    if (this.stopped) return;
    const dueAt = Date.now() + ms;
    if (this.timer !== null) {
      if (this.dueAt <= dueAt) return;
      clearTimeout(this.timer);
    }
    this.dueAt = dueAt;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run().finally(() =>
        this.passIn(this.anyLease ? this.opts.checkMs : this.opts.idleMs),
      );
    }, ms);
    this.timer.unref();
  }

  private async run(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    const outage = this.failedLast || Date.now() - this.dueAt > 2 * this.opts.checkMs;
    try {
      this.anyLease = await this.opts.pass(outage);
      this.failedLast = false;
    } catch (err) {
      this.failedLast = true;
      this.opts.failed(err);
    } finally {
      this.running = false;
    }
  }
}
