/**
 * Error-budget maths of one SLO, pure (Google SRE workbook, "Alerting on SLOs"): attainment and
 * remaining budget over the SLO window, burn rates over the alert windows, and the status.
 *
 * Counts are events: `good + bad = total`. An empty window has spent nothing (burn rate 0,
 * attainment 1), so a quiet pipeline is never "burning".
 */

export interface Counts {
  readonly good: number;
  readonly bad: number;
}

/** The multiwindow alert rules: both windows of a pair must burn faster than `threshold`. */
export interface BurnAlert {
  readonly longMs: number;
  readonly shortMs: number;
  /** Budget consumption rate that fires the alert (14.4: 2 % of a 30-day budget in 1 h). */
  readonly threshold: number;
}

/** Fast burn: 1 h and 5 min above 14.4 (pages); slow burn: 6 h and 30 min above 6 (tickets). */
export const DEFAULT_FAST_BURN: BurnAlert = {
  longMs: 3_600_000,
  shortMs: 300_000,
  threshold: 14.4,
};
export const DEFAULT_SLOW_BURN: BurnAlert = {
  longMs: 21_600_000,
  shortMs: 1_800_000,
  threshold: 6,
};

export type SloStatus = 'ok' | 'burning' | 'exhausted';

export interface BudgetFigures {
  /** good / total over the window; 1 for an empty window. */
  readonly attainment: number;
  /** Bad events the window may hold: (1 − objective) × total. */
  readonly budgetEvents: number;
  /** budgetEvents − bad; negative once overspent. */
  readonly remainingEvents: number;
  /** remainingEvents / budgetEvents; 1 when nothing was allowed or spent (empty window). */
  readonly remainingShare: number;
}

export function budget(c: Counts, objective: number): BudgetFigures {
  const total = c.good + c.bad;
  const budgetEvents = (1 - objective) * total;
  const remainingEvents = budgetEvents - c.bad;
  let remainingShare: number;
  if (budgetEvents > 0) remainingShare = remainingEvents / budgetEvents;
  else remainingShare = c.bad === 0 ? 1 : -Infinity;
  return {
    attainment: total === 0 ? 1 : c.good / total,
    budgetEvents,
    remainingEvents,
    remainingShare,
  };
}

/**
 * How fast the budget burns in a window: the window's bad share over the allowed bad share.
 * 1 spends exactly the budget over the SLO window; 0 for an empty window. An objective of 1
 * (no budget) burns infinitely fast on any bad event.
 */
export function burnRate(c: Counts, objective: number): number {
  const total = c.good + c.bad;
  if (total === 0 || c.bad === 0) return 0;
  const allowed = 1 - objective;
  return allowed <= 0 ? Infinity : c.bad / total / allowed;
}

/** Whether an alert pair fires: both of its windows burn faster than its threshold. */
export function alertFires(long: Counts, short: Counts, objective: number, a: BurnAlert): boolean {
  return burnRate(long, objective) > a.threshold && burnRate(short, objective) > a.threshold;
}

/**
 * `exhausted` once the window's budget is spent (and something was spent), else `burning` while
 * the fast or slow alert fires, else `ok`.
 */
export function sloStatus(
  window: Counts,
  objective: number,
  fastFires: boolean,
  slowFires: boolean,
): SloStatus {
  const b = budget(window, objective);
  if (window.bad > 0 && b.remainingEvents <= 0) return 'exhausted';
  return fastFires || slowFires ? 'burning' : 'ok';
}
