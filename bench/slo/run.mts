/**
 * SLO bench: evaluating every SLO over 1,000,000 builds of history. See bench/README.md ("SLO").
 *
 *   npx tsx bench/slo/run.mts [--builds=1000000] [--runs=5] [--no-write]
 *
 * The pipeline has four SLOs (reliability, start_latency, delivery, lead_time — every indicator
 * nightless measures), each with a 28-day window and the fast (1 h / 5 min) and slow (6 h /
 * 30 min) alert windows: five window sums per SLO. Each build contributes a `started`, a
 * `finished`, the delivery of its `finished` event to every report target, and (each build being
 * one version's first) its version's trace: done 0–20 min after the event, or still open for the
 * newest ones (judged at the deadline, `lead_time`'s threshold being 15 min).
 * - incremental (nightless): `SloSet` — each lifecycle change adds to a ring of 1-minute buckets
 *   as it arrives; an evaluation sums buckets, never builds.
 * - baseline (same run): a full scan of the same 1,000,000 builds per evaluation, counting each
 *   window — what evaluating from the builds table on each event would cost at best (in memory,
 *   no SQL).
 * Each run builds a fresh history; the figure is the median evaluation of the run; the table
 * reports the median over runs and the spread (min–max of the run medians).
 */
import { performance } from 'node:perf_hooks';
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, median } from '../lib/report.mjs';
import type { FailureClass } from '../../src/core/failure-class.js';
import { DEFAULT_FAST_BURN, DEFAULT_SLOW_BURN } from '../../src/core/slo/slo-math.js';
import type { DeliveryObservation } from '../../src/core/slo/delivery-tally.js';
import { leadTimeVerdict, type TraceObservation } from '../../src/core/slo/lead-time.js';
import { SloSet, judge, type SloDef, type SloObservation } from '../../src/core/slo/slo-set.js';

type Observation = SloObservation | DeliveryObservation | TraceObservation;

const args = benchArgs();
const BUILDS = Number(args.get('builds') ?? 1_000_000);
const RUNS = Number(args.get('runs') ?? 5);
const EVALS = 50;
const BASELINE_EVALS = 5;
const DAY = 86_400_000;
const WINDOW = 28 * DAY;
const NOW = Date.UTC(2026, 10, 30);

const defs: SloDef[] = [
  {
    name: 'reliability',
    indicator: 'reliability',
    objective: 0.995,
    windowMs: WINDOW,
    thresholdMs: null,
    fast: DEFAULT_FAST_BURN,
    slow: DEFAULT_SLOW_BURN,
  },
  {
    name: 'start',
    indicator: 'start_latency',
    objective: 0.99,
    windowMs: WINDOW,
    thresholdMs: 30_000,
    fast: DEFAULT_FAST_BURN,
    slow: DEFAULT_SLOW_BURN,
  },
  {
    name: 'reports',
    indicator: 'delivery',
    objective: 0.999,
    windowMs: WINDOW,
    thresholdMs: 60_000,
    fast: DEFAULT_FAST_BURN,
    slow: DEFAULT_SLOW_BURN,
  },
  {
    name: 'lead',
    indicator: 'lead_time',
    objective: 0.99,
    windowMs: WINDOW,
    thresholdMs: 15 * 60_000,
    fast: DEFAULT_FAST_BURN,
    slow: DEFAULT_SLOW_BURN,
  },
];

function history(seed: number): Observation[] {
  let x = seed;
  const rand = () => (x = (x * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
  const out: Observation[] = [];
  const classes: Array<FailureClass | null> = [
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    'user',
    'network',
    'infrastructure',
  ];
  for (let i = 0; i < BUILDS; i++) {
    const queuedAt = NOW - WINDOW + Math.floor((i / BUILDS) * WINDOW);
    const startedAt = queuedAt + Math.floor(rand() * 40_000);
    const finishedAt = startedAt + 60_000;
    const failureClass = rand() < 0.02 ? classes[Math.floor(rand() * classes.length)]! : null;
    const build = {
      state: failureClass === null ? ('passed' as const) : ('error' as const),
      failureClass,
      attempt: 1,
      cause: { kind: 'version' as const, source: 'app', version: String(i), eventId: i },
      queuedAt,
      startedAt,
      finishedAt,
    };
    const delivered: DeliveryObservation = {
      type: 'delivered',
      createdAt: finishedAt,
      doneAt: finishedAt + Math.floor(rand() * 70_000),
      ok: rand() > 0.001,
    };
    // The version's whole trace: done some minutes after the event, unless still running now.
    const doneAt = queuedAt + Math.floor(rand() * 20 * 60_000);
    const trace: TraceObservation = {
      type: 'trace',
      root: i,
      receivedAt: queuedAt,
      doneAt: doneAt > NOW ? null : doneAt,
    };
    out.push(
      { type: 'started', build, eventAt: queuedAt },
      { type: 'finished', build },
      delivered,
      trace,
    );
  }
  return out;
}

/** The baseline: count every window of every SLO by scanning all observations. */
function fullScan(all: readonly Observation[], now: number): number[] {
  const sums: number[] = [];
  for (const d of defs) {
    for (const w of [d.windowMs, d.fast.longMs, d.fast.shortMs, d.slow.longMs, d.slow.shortMs]) {
      let good = 0;
      let bad = 0;
      for (const o of all) {
        const v =
          o.type !== 'trace'
            ? judge(d, o)
            : d.indicator === 'lead_time'
              ? leadTimeVerdict(o.receivedAt, o.doneAt, now, d.thresholdMs ?? 0)
              : null;
        if (v === null || v.at <= now - w || v.at > now) continue;
        if (v.good) good++;
        else bad++;
      }
      sums.push(good, bad);
    }
  }
  return sums;
}

const p99 = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.99))]!;

const load0 = loadAverage();
const started = performance.now();
const incMedians: number[] = [];
const incP99s: number[] = [];
const scanMedians: number[] = [];
const feedPerEventUs: number[] = [];
for (let run = 0; run < RUNS; run++) {
  const all = history(run + 1);
  const set = new SloSet(defs);
  const t0 = performance.now();
  for (const o of all) set.observe(o);
  // What the monitor does after asking the store: versions still open past their deadline.
  set.expire(NOW);
  feedPerEventUs.push(((performance.now() - t0) * 1000) / all.length);
  const inc: number[] = [];
  let reports = set.evaluate(NOW);
  for (let i = 0; i < EVALS; i++) {
    const t = performance.now();
    reports = set.evaluate(NOW);
    inc.push(performance.now() - t);
  }
  const scan: number[] = [];
  let sums: number[] = [];
  for (let i = 0; i < BASELINE_EVALS; i++) {
    const t = performance.now();
    sums = fullScan(all, NOW);
    scan.push(performance.now() - t);
  }
  // Same answer over each SLO window (buckets are exact at the 28-day edge: the history starts
  // on it; a few deliveries done after NOW fall outside both).
  for (const [i, r] of reports.entries()) {
    const [good, bad] = [sums[i * 10]!, sums[i * 10 + 1]!];
    if (r.good + r.bad === 0) throw new Error(`${r.name}: counted nothing`);
    if (Math.abs(r.good - good) + Math.abs(r.bad - bad) > 0.01 * BUILDS)
      throw new Error(
        `${r.name}: incremental and full scan disagree: ${r.good}/${r.bad} vs ${good}/${bad}`,
      );
  }
  incMedians.push(median(inc));
  incP99s.push(p99(inc));
  scanMedians.push(median(scan));
  console.log(
    `run ${run + 1}/${RUNS}: evaluate p50 ${median(inc).toFixed(3)} ms, full scan p50 ${median(scan).toFixed(1)} ms, observe ${feedPerEventUs.at(-1)!.toFixed(3)} µs/event`,
  );
}
const spread = (xs: number[], digits: number) =>
  `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
const inc = median(incMedians);
const scan = median(scanMedians);
const report = [
  `Latest run: ${new Date().toISOString()} — ${machine()}; load average (1/5/15 min) ${load0} at start, ${loadAverage()} at end; total ${((performance.now() - started) / 1000).toFixed(1)} s; ${BUILDS.toLocaleString('en')} builds (4 observations each: started, finished, delivered, its version's trace) over 28 days, 4 SLOs (reliability, start_latency, delivery, lead_time) × 5 windows, ${RUNS} runs of ${EVALS} evaluations (baseline: ${BASELINE_EVALS} per run); command: \`npx tsx bench/slo/run.mts${RUNS === 5 ? '' : ` --runs=${RUNS}`}\`.`,
  '',
  figureTable([
    {
      figure: 'evaluate all SLOs, 1M builds of history, median of run medians (spread over runs)',
      target: '< 50 ms',
      measured: `${inc.toFixed(3)} ms (${spread(incMedians, 3)})`,
      met: inc < 50,
      baseline: `${scan.toFixed(1)} ms (${spread(scanMedians, 1)}) full scan`,
      ratio: `${(scan / inc).toFixed(0)}× faster`,
    },
    {
      figure: 'evaluate, p99 within a run (spread over runs)',
      target: '—',
      measured: `${median(incP99s).toFixed(3)} ms (${spread(incP99s, 3)})`,
      met: null,
      baseline: '—',
      ratio: '—',
    },
    {
      figure: 'cost of one lifecycle change (observe), mean (spread over runs)',
      target: '—',
      measured: `${median(feedPerEventUs).toFixed(3)} µs (${spread(feedPerEventUs, 3)})`,
      met: null,
      baseline: '—',
      ratio: '—',
    },
  ]),
].join('\n');
console.log(report);
if (!args.has('no-write'))
  console.log(`wrote ${writeResultsSection('slo', '## SLO (bench/slo)', report)}`);
