/**
 * `delivery`: one outbox event delivered to every report target — `ok` false when a target gave
 * it up (a dead delivery). `doneAt` is when the last target was done with it.
 */
export interface DeliveryObservation {
  readonly type: 'delivered';
  readonly createdAt: number;
  readonly doneAt: number;
  readonly ok: boolean;
}

/** Events awaited at most: a target stuck far behind must not grow memory without bound. */
const MAX_PENDING = 100_000;

/**
 * Which outbox events every report target is done with. Targets report each event they finish
 * (`seen`, `failed` for a dead delivery); an event is done once every target's cursor passed it
 * (`settle(min cursor)`), so no target count is needed and a restart, which resumes each cursor
 * where it was, leaves nothing waiting forever. Pure: times come from the caller.
 */
export class DeliveryTally {
  private readonly pending = new Map<number, { createdAt: number; ok: boolean }>();

  seen(id: number, createdAt: number, ok: boolean): void {
    const p = this.pending.get(id);
    if (p) {
      if (!ok) p.ok = false;
      return;
    }
    if (this.pending.size >= MAX_PENDING) {
      const oldest = this.pending.keys().next();
      if (!oldest.done) this.pending.delete(oldest.value);
    }
    this.pending.set(id, { createdAt, ok });
  }

  /** The events every target has passed (ids up to `minCursor`), done at `now`, oldest first. */
  settle(minCursor: number, now: number): DeliveryObservation[] {
    const out: DeliveryObservation[] = [];
    for (const [id, p] of this.pending) {
      if (id > minCursor) continue;
      this.pending.delete(id);
      out.push({ type: 'delivered', createdAt: p.createdAt, doneAt: now, ok: p.ok });
    }
    return out;
  }

  get size(): number {
    return this.pending.size;
  }
}
