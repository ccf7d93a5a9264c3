/**
 * `lead_time`: a version's whole downstream trace finished within T of the event announcing it.
 *
 * The store decides when a trace is done (no build of it queued or running, no output event of
 * it undecided — `store/sql/trace-store.ts`) and when (the last of those endings). This file only
 * judges, pure: a version is good once it is done within T; bad once T has elapsed without it
 * being done (counted at the deadline, so a trace that never finishes is not waited for). A late
 * completion is bad at the same deadline, so live counting and a restart's history agree.
 */

/** What the SLO counters learn about one version's trace (`root` = the announcing event id). */
export interface TraceObservation {
  readonly type: 'trace';
  readonly root: number;
  /** When the event announcing the version was received. */
  readonly receivedAt: number;
  /** When its trace was done; `null` while something of it is still queued, running or undecided. */
  readonly doneAt: number | null;
}

export interface Verdict {
  readonly at: number;
  readonly good: boolean;
}

/**
 * The verdict on one version at `now`, or `null` while it cannot be told yet (not done, and the
 * deadline `receivedAt + thresholdMs` not passed). Good at `doneAt`; bad at the deadline.
 */
export function leadTimeVerdict(
  receivedAt: number,
  doneAt: number | null,
  now: number,
  thresholdMs: number,
): Verdict | null {
  const deadline = receivedAt + thresholdMs;
  if (doneAt !== null && doneAt <= deadline) return { at: doneAt, good: true };
  if (doneAt !== null || now >= deadline) return { at: deadline, good: false };
  return null;
}

/** Versions awaited at most: a stuck pipeline must not grow memory without bound. */
const MAX_PENDING = 100_000;

/**
 * The versions of one `lead_time` SLO not judged yet, and those judged (so a version observed
 * again — the store answers "done" more than once — counts once). Judged entries older than
 * `forgetMs` before the newest judgement are dropped, so both stay as small as a window's versions.
 */
export class LeadTimeTally {
  private readonly pending = new Map<number, number>();
  private readonly judged = new Map<number, number>();

  constructor(
    readonly thresholdMs: number,
    private readonly forgetMs: number,
  ) {}

  /** A version opened or done; the verdict when it can be told now (`now`: the observer's time). */
  observe(o: TraceObservation, now: number): Verdict | null {
    if (this.judged.has(o.root)) return null;
    const v = leadTimeVerdict(o.receivedAt, o.doneAt, now, this.thresholdMs);
    if (v === null) {
      if (!this.pending.has(o.root) && this.pending.size >= MAX_PENDING) {
        const oldest = this.pending.keys().next();
        if (!oldest.done) this.pending.delete(oldest.value);
      }
      this.pending.set(o.root, o.receivedAt);
      return null;
    }
    this.judge(o.root, v.at);
    return v;
  }

  /** The versions whose deadline passed by `now` without being done: bad, at their deadline. */
  expire(now: number): Verdict[] {
    const out: Verdict[] = [];
    for (const [root, receivedAt] of this.pending) {
      const v = leadTimeVerdict(receivedAt, null, now, this.thresholdMs);
      if (v === null) continue;
      this.judge(root, v.at);
      out.push(v);
    }
    return out;
  }

  /** The earliest deadline of a version still awaited (`null`: none awaited). */
  nextDeadline(): number | null {
    let next: number | null = null;
    for (const receivedAt of this.pending.values()) {
      const at = receivedAt + this.thresholdMs;
      if (next === null || at < next) next = at;
    }
    return next;
  }

  /** Versions still awaited: what the monitor asks the store about. */
  pendingRoots(): number[] {
    return [...this.pending.keys()];
  }

  private judge(root: number, at: number): void {
    this.pending.delete(root);
    this.judged.set(root, at);
    if (this.judged.size > 4096 && this.judged.size % 4096 === 0) {
      const horizon = at - this.forgetMs;
      for (const [id, t] of this.judged) if (t < horizon) this.judged.delete(id);
    }
  }
}
