import type { Build } from '../build.js';
import { SYSTEM_FAILURE_CLASSES } from '../failure-class.js';
import { BucketCounter } from './bucket-counter.js';
import type { DeliveryObservation } from './delivery-tally.js';
import { LeadTimeTally, type TraceObservation } from './lead-time.js';
import {
  alertFires,
  budget,
  burnRate,
  sloStatus,
  type BudgetFigures,
  type BurnAlert,
  type SloStatus,
} from './slo-math.js';

/** What an SLO counts (docs/slo.md). */
export const SLO_INDICATORS = ['reliability', 'start_latency', 'delivery', 'lead_time'] as const;
/** The indicators whose good events are bounded by a `threshold`. */
export const TIMED_INDICATORS: readonly SloIndicator[] = ['start_latency', 'delivery', 'lead_time'];
export type SloIndicator = (typeof SLO_INDICATORS)[number];

export interface SloDef {
  readonly name: string;
  readonly indicator: SloIndicator;
  /** Share of good events wanted, in (0, 1): 0.99 for "99 %". */
  readonly objective: number;
  /** The rolling window the budget covers (default 28 days). */
  readonly windowMs: number;
  /**
   * `start_latency`: a new version whose first build started within this time of the event that
   * announced it is good; `delivery`: the most the last report target may take; `lead_time`: the
   * most a version's whole downstream trace may take.
   */
  readonly thresholdMs: number | null;
  readonly fast: BurnAlert;
  readonly slow: BurnAlert;
}

export interface SloReport extends BudgetFigures {
  readonly name: string;
  readonly indicator: SloIndicator;
  readonly objective: number;
  readonly windowMs: number;
  readonly good: number;
  readonly bad: number;
  readonly burnRates: {
    readonly fastLong: number;
    readonly fastShort: number;
    readonly slowLong: number;
    readonly slowShort: number;
  };
  /** The fast-burn alert fires now: what `dev.nightless.slo.burning` announces. */
  readonly fastBurn: boolean;
  readonly slowBurn: boolean;
  readonly status: SloStatus;
}

/** One build lifecycle change, as much of it as the indicators read. */
export interface SloObservation {
  readonly type: 'queued' | 'started' | 'finished' | 'superseded' | 'cancelled' | 'skipped';
  readonly build: Pick<
    Build,
    'state' | 'failureClass' | 'attempt' | 'cause' | 'queuedAt' | 'startedAt' | 'finishedAt'
  >;
  /**
   * `started` of a build a version caused: when the event announcing the version was received
   * (`start_latency` measures from it). Absent or `null` (the event is gone): the queue time.
   */
  readonly eventAt?: number | null;
}

/**
 * The SLOs of a pipeline, evaluated incrementally: each observation adds one count to a ring of
 * time buckets per SLO (O(1)); evaluating sums at most window/bucket buckets per SLO, however
 * long the history. The bucket is a fifth of the shortest alert window, so the 5-minute window
 * is right to a minute. Pure: time comes from the observations and the `now` of `evaluate`.
 */
export class SloSet {
  private readonly counters: BucketCounter[];
  /**
   * `start_latency` counts a version once, at its first build's start: the events whose first
   * build was counted, with when. Entries older than every window are dropped, so it stays as
   * small as the window's events.
   */
  private readonly firstStarts = new Map<number, number>();
  private readonly longestMs: number;
  private readonly countsStarts: boolean;
  /** Per SLO: the `lead_time` tally (versions awaited and judged), `null` for other indicators. */
  private readonly tallies: Array<LeadTimeTally | null>;

  constructor(readonly defs: readonly SloDef[]) {
    this.counters = defs.map((d) => {
      const shortest = Math.min(d.fast.shortMs, d.slow.shortMs, d.windowMs);
      const longest = Math.max(d.windowMs, d.fast.longMs, d.slow.longMs);
      return new BucketCounter(Math.max(1, Math.floor(shortest / 5)), longest);
    });
    this.countsStarts = defs.some((d) => d.indicator === 'start_latency');
    this.longestMs = Math.max(0, ...defs.map((d) => Math.max(d.windowMs, d.slow.longMs)));
    this.tallies = defs.map((d) =>
      // A version is asked about again only from its own first builds' messages (seconds after
      // its verdict at most), so verdicts are remembered an hour past the threshold, not a window.
      d.indicator === 'lead_time'
        ? new LeadTimeTally(d.thresholdMs ?? 0, (d.thresholdMs ?? 0) + 3_600_000)
        : null,
    );
  }

  /**
   * Counts a lifecycle change for every SLO it concerns. Safe to call in any order of builds.
   * `now` (a trace observation's judging time) defaults to when the trace was done, or received.
   */
  observe(o: SloObservation | DeliveryObservation | TraceObservation, now?: number): void {
    if (o.type === 'trace') {
      for (const [i, t] of this.tallies.entries()) {
        const v = t?.observe(o, now ?? o.doneAt ?? o.receivedAt);
        if (v) this.counters[i]!.add(v.at, v.good);
      }
      return;
    }
    const repeat = this.laterStartOfCountedVersion(o);
    for (const [i, d] of this.defs.entries()) {
      if (repeat && d.indicator === 'start_latency') continue;
      const v = judge(d, o);
      if (v !== null) this.counters[i]!.add(v.at, v.good);
    }
  }

  /** A `started` of a version whose first build was already counted (another job's build). */
  private laterStartOfCountedVersion(o: SloObservation | DeliveryObservation): boolean {
    if (!this.countsStarts || o.type === 'delivered') return false;
    const c = o.build.cause;
    if (o.type !== 'started' || c.kind !== 'version' || c.eventId === null) return false;
    if (o.build.attempt !== 1 || o.build.startedAt === null) return false;
    if (this.firstStarts.has(c.eventId)) return true;
    this.firstStarts.set(c.eventId, o.build.startedAt);
    if (this.firstStarts.size > 4096 && this.firstStarts.size % 4096 === 0) {
      const horizon = o.build.startedAt - this.longestMs;
      for (const [id, at] of this.firstStarts) if (at < horizon) this.firstStarts.delete(id);
    }
    return false;
  }

  /**
   * `lead_time`: the versions still awaited whose deadline passed by `now` count as bad. Only the
   * caller knows that the store was asked about them first (`SloMonitor`), so it is not implied
   * by `evaluate`.
   */
  expire(now: number): void {
    for (const [i, t] of this.tallies.entries())
      for (const v of t?.expire(now) ?? []) this.counters[i]!.add(v.at, v.good);
  }

  /** When the next awaited version turns bad unless done first (`null`: none awaited). */
  nextTraceDeadline(): number | null {
    const all = this.tallies.map((t) => t?.nextDeadline() ?? null).filter((d) => d !== null);
    return all.length === 0 ? null : Math.min(...all);
  }

  /** The versions some `lead_time` SLO still awaits (event ids), for the store to settle. */
  pendingTraces(): number[] {
    const all = new Set<number>();
    for (const t of this.tallies) for (const r of t?.pendingRoots() ?? []) all.add(r);
    return [...all];
  }

  evaluate(now: number): SloReport[] {
    return this.defs.map((d, i) => {
      const c = this.counters[i]!;
      const window = c.counts(now, d.windowMs);
      const fl = c.counts(now, d.fast.longMs);
      const fs = c.counts(now, d.fast.shortMs);
      const sl = c.counts(now, d.slow.longMs);
      const ss = c.counts(now, d.slow.shortMs);
      const fastBurn = alertFires(fl, fs, d.objective, d.fast);
      const slowBurn = alertFires(sl, ss, d.objective, d.slow);
      return {
        name: d.name,
        indicator: d.indicator,
        objective: d.objective,
        windowMs: d.windowMs,
        good: window.good,
        bad: window.bad,
        ...budget(window, d.objective),
        burnRates: {
          fastLong: burnRate(fl, d.objective),
          fastShort: burnRate(fs, d.objective),
          slowLong: burnRate(sl, d.objective),
          slowShort: burnRate(ss, d.objective),
        },
        fastBurn,
        slowBurn,
        status: sloStatus(window, d.objective, fastBurn, slowBurn),
      };
    });
  }
}

/**
 * Whether an observation is a good or bad event of `d`, and when; `null` when it is none.
 * - reliability: every `finished` build; bad when its class is `network` or `infrastructure`.
 * - start_latency: the first attempt of a build a new version caused, when it starts; good when
 *   it started at most the threshold after the event announcing the version was received
 *   (`eventAt`; the queue time when unknown). `SloSet` counts only a version's first such start.
 * - delivery: an outbox event every report target is done with; good when none gave it up and
 *   the last one was done within the threshold of the event being written.
 * - lead_time: never a single build's change (see `lead-time.ts`).
 */
export function judge(
  d: SloDef,
  o: SloObservation | DeliveryObservation,
): { at: number; good: boolean } | null {
  if (o.type === 'delivered') {
    if (d.indicator !== 'delivery') return null;
    return { at: o.doneAt, good: o.ok && o.doneAt - o.createdAt <= (d.thresholdMs ?? 0) };
  }
  const b = o.build;
  switch (d.indicator) {
    case 'reliability':
      if (o.type !== 'finished' || b.finishedAt === null) return null;
      return {
        at: b.finishedAt,
        good: b.failureClass === null || !SYSTEM_FAILURE_CLASSES.includes(b.failureClass),
      };
    case 'start_latency':
      if (o.type !== 'started' || b.startedAt === null) return null;
      if (b.attempt !== 1 || b.cause.kind !== 'version') return null;
      return {
        at: b.startedAt,
        good: b.startedAt - (o.eventAt ?? b.queuedAt) <= (d.thresholdMs ?? 0),
      };
    case 'delivery':
    case 'lead_time':
      // Judged from trace observations (`LeadTimeTally`), not from one build's change.
      return null;
  }
}
