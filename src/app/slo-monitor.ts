import type { Logger } from 'pino';
import type { Pipeline } from '../core/pipeline.js';
import type { DeliveryObservation } from '../core/slo/delivery-tally.js';
import { SloSet, type SloObservation, type SloReport } from '../core/slo/slo-set.js';
import type { ReadPort } from '../store/ports.js';

/** A fast-burn alert started (`burning`) or ended (`recovered`). */
export interface SloTransition {
  readonly kind: 'burning' | 'recovered';
  readonly report: SloReport;
  readonly at: number;
}

export interface SloMonitorDeps {
  readonly store: Pick<ReadPort, 'sloHistory' | 'getEvent'>;
  readonly now: () => number;
  readonly logger: Logger;
  readonly onTransition: (t: SloTransition) => void;
  /** How often the windows are re-evaluated without new events (recoveries); default 30 s. */
  readonly tickMs?: number;
}

/**
 * The running SLOs of `nightless serve`: counters fed by every lifecycle change the outbox relay
 * publishes (`observe`), loaded from the store once per pipeline (`load`), evaluated on each
 * change and on a timer so a window that slides past its failures recovers without new events.
 * A change of a fast-burn alert calls `onTransition` once per start and once per end.
 */
export class SloMonitor {
  private set = new SloSet([]);
  private fast = new Map<string, boolean>();
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SloMonitorDeps) {}

  /** (Re)builds the counters for `pipeline`'s SLOs from the store. Safe to call on every reload. */
  async load(pipeline: Pipeline): Promise<void> {
    const defs = pipeline.slos ?? [];
    const set = new SloSet(defs);
    const longest = Math.max(0, ...defs.map((d) => Math.max(d.windowMs, d.slow.longMs)));
    if (defs.length > 0)
      for (const o of await this.deps.store.sloHistory(this.deps.now() - longest)) set.observe(o);
    this.set = set;
    // Alerts already firing at start are not announced again; only changes are.
    this.fast = new Map(set.evaluate(this.deps.now()).map((r) => [r.name, r.fastBurn]));
    this.stopTimer();
    if (defs.length > 0) {
      this.timer = setInterval(() => this.check(), this.deps.tickMs ?? 30_000);
      this.timer.unref();
    }
  }

  readonly observe = (o: SloObservation | DeliveryObservation): void => {
    if (o.type === 'delivered') {
      this.set.observe(o);
      this.check();
      return;
    }
    const c = o.build.cause;
    const needsEvent =
      o.type === 'started' &&
      o.eventAt === undefined &&
      c.kind === 'version' &&
      c.eventId !== null &&
      o.build.attempt === 1 &&
      this.set.defs.some((d) => d.indicator === 'start_latency');
    if (!needsEvent) {
      this.set.observe(o);
      this.check();
      return;
    }
    // start_latency measures from the event's arrival, which the lifecycle record does not carry.
    const set = this.set;
    this.deps.store.getEvent(c.eventId).then(
      (e) => {
        set.observe({ ...o, eventAt: e?.receivedAt ?? null });
        if (set === this.set) this.check();
      },
      (err: unknown) => {
        this.deps.logger.error({ err }, 'reading the event of a started build failed');
        set.observe({ ...o, eventAt: null });
      },
    );
  };

  reports(): SloReport[] {
    return this.set.evaluate(this.deps.now());
  }

  stop(): void {
    this.stopTimer();
  }

  private check(): void {
    if (this.set.defs.length === 0) return;
    const at = this.deps.now();
    for (const r of this.set.evaluate(at)) {
      const was = this.fast.get(r.name) ?? false;
      if (was === r.fastBurn) continue;
      this.fast.set(r.name, r.fastBurn);
      const kind = r.fastBurn ? 'burning' : 'recovered';
      this.deps.logger.warn(
        { slo: r.name, burnRates: r.burnRates, remainingShare: r.remainingShare },
        `slo ${kind}`,
      );
      try {
        this.deps.onTransition({ kind, report: r, at });
      } catch (err) {
        this.deps.logger.error({ err }, 'announcing an SLO change failed');
      }
    }
  }

  private stopTimer(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}
