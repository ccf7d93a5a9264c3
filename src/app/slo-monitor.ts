import type { Logger } from 'pino';
import type { Pipeline } from '../core/pipeline.js';
import type { DeliveryObservation } from '../core/slo/delivery-tally.js';
import { SloSet, type SloObservation, type SloReport } from '../core/slo/slo-set.js';
import type { ReadPort, TracePort } from '../store/ports.js';

/** The least time between two `lead_time` syncs with the store. */
const MIN_SYNC_GAP_MS = 1_000;

/** A fast-burn alert started (`burning`) or ended (`recovered`). */
export interface SloTransition {
  readonly kind: 'burning' | 'recovered';
  readonly report: SloReport;
  readonly at: number;
}

export interface SloMonitorDeps {
  readonly store: Pick<ReadPort, 'sloHistory' | 'getEvent'>;
  /** `lead_time`: asked whether the traces of the versions awaited are done. */
  readonly traces: TracePort;
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
  /** `lead_time`: versions whose first build was seen since the last sync (event ids). */
  private opened = new Set<number>();
  /** The sync in flight (one at a time), and whether another was asked for meanwhile. */
  private syncing: Promise<void> | null = null;
  private syncAgain = false;
  /** `lead_time`: wakes the monitor at the next deadline of a version awaited. */
  private deadlineTimer: NodeJS.Timeout | null = null;
  /** When the last trace sync started (real time), and the timer of one held back. */
  private lastSyncAt = 0;
  private heldSync: NodeJS.Timeout | null = null;

  constructor(private readonly deps: SloMonitorDeps) {}

  /** (Re)builds the counters for `pipeline`'s SLOs from the store. Safe to call on every reload. */
  async load(pipeline: Pipeline): Promise<void> {
    const defs = pipeline.slos ?? [];
    const set = new SloSet(defs);
    const longest = Math.max(0, ...defs.map((d) => Math.max(d.windowMs, d.slow.longMs)));
    if (defs.length > 0)
      for (const o of await this.deps.store.sloHistory(this.deps.now() - longest)) set.observe(o);
    // Versions still open in the history are asked about first, so a trace done while no server
    // ran counts as done when it was; the ones past their deadline are bad before any alert check.
    if (set.pendingTraces().length > 0) {
      const states = await this.deps.traces.settleTraces(set.pendingTraces());
      const at = this.deps.now();
      for (const t of states) set.observe(t, at);
      set.expire(at);
    }
    this.set = set;
    this.opened.clear();
    // Alerts already firing at start are not announced again; only changes are.
    const now = this.deps.now();
    this.fast = new Map(set.evaluate(now).map((r) => [r.name, r.fastBurn]));
    this.stopTimer();
    if (defs.length > 0) {
      this.timer = setInterval(
        () => (this.countsLeadTime() ? this.requestSync() : this.check()),
        this.deps.tickMs ?? 30_000,
      );
      this.timer.unref();
    }
    this.armDeadline(set.nextTraceDeadline(), now);
  }

  readonly observe = (o: SloObservation | DeliveryObservation): void => {
    if (o.type !== 'delivered' && this.countsLeadTime()) this.traceChanged(o);
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

  /** Whether some SLO is `lead_time` (the others need no trace bookkeeping). */
  private countsLeadTime(): boolean {
    return this.set.defs.some((d) => d.indicator === 'lead_time');
  }

  /**
   * `lead_time`: a version's first build (queued or skipped) opens its trace; any ending may
   * close one. Which trace a build is in is the store's to say, so both only ask for a sync.
   */
  private traceChanged(o: SloObservation): void {
    const c = o.build.cause;
    if ((o.type === 'queued' || o.type === 'skipped') && c.kind === 'version' && c.eventId !== null)
      // An output event's build belongs to an older version's trace: the store answers nothing
      // new for it (its event has no builds of its own as root), so asking is harmless.
      this.opened.add(c.eventId);
    if (o.type !== 'started') this.requestSync();
  }

  /** Runs a trace sync now, or once more after the one in flight: never two at once. */
  private requestSync(): void {
    if (this.syncing) {
      this.syncAgain = true;
      return;
    }
    // Busy pipelines end builds many times a second: one sync a second asks about every awaited
    // version anyway (done times come from the store, so waiting costs no precision).
    const wait = this.lastSyncAt + MIN_SYNC_GAP_MS - Date.now();
    if (wait > 0) {
      if (this.heldSync === null) {
        this.heldSync = setTimeout(() => {
          this.heldSync = null;
          this.requestSync();
        }, wait);
        this.heldSync.unref();
      }
      return;
    }
    this.lastSyncAt = Date.now();
    this.syncing = this.syncTraces()
      .catch((err: unknown) => this.deps.logger.error({ err }, 'settling version traces failed'))
      .finally(() => {
        this.syncing = null;
        if (this.syncAgain) {
          this.syncAgain = false;
          this.requestSync();
        }
      });
  }

  /**
   * Asks the store about every version awaited (and newly opened), counts the ones done, then the
   * ones whose deadline passed — in that order, so a trace done in time but heard of late is
   * still good. Bounded by the versions awaited (at most a window's).
   */
  private async syncTraces(): Promise<void> {
    const set = this.set;
    const roots = [...new Set([...set.pendingTraces(), ...this.opened])];
    this.opened.clear();
    const states = await this.deps.traces.settleTraces(roots);
    if (set !== this.set) return;
    const now = this.deps.now();
    for (const t of states) set.observe(t, now);
    set.expire(now);
    this.check();
    this.armDeadline(set.nextTraceDeadline(), now);
  }

  /**
   * A version still open at its deadline is bad then, not at the next build change or tick: one
   * timer for the earliest deadline (re-armed after every sync), so an alert is not late.
   */
  private armDeadline(at: number | null, now: number): void {
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    if (at === null) return;
    // The store's clock and ours may differ by a little: a sync just after the deadline.
    this.deadlineTimer = setTimeout(() => this.requestSync(), Math.max(0, at - now) + 50);
    this.deadlineTimer.unref();
  }

  /** Resolves once no trace sync is in flight (tests, shutdown). */
  async idle(): Promise<void> {
    for (let i = 0; i < 100 && this.syncing; i++) await this.syncing;
  }

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
    if (this.deadlineTimer !== null) clearTimeout(this.deadlineTimer);
    this.deadlineTimer = null;
    if (this.heldSync !== null) clearTimeout(this.heldSync);
    this.heldSync = null;
  }
}
