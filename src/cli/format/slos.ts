import type { SloReportView } from '../../api/types.js';
import type { Colours } from './colour.js';
import { renderTable } from './table.js';
import { formatSpan } from './time.js';

/** `nightless slo`: one row per SLO with its attainment, budget, burn rates and status. */
export function formatSlos(slos: readonly SloReportView[], c: Colours): string[] {
  if (slos.length === 0)
    return ['no SLOs declared (add `slos:` to the pipeline file; see docs/slo.md)'];
  const rows = slos.map((s) => [
    s.name,
    s.indicator,
    `${pct(s.objective)} / ${formatSpan(s.windowMs)}`,
    `${pct(s.attainment)} (${s.bad}/${s.good + s.bad} bad)`,
    s.remainingShare === null
      ? 'none'
      : `${pct(s.remainingShare)} (${round(s.remainingEvents)} events)`,
    `${rate(s.burnRates.fastLong)}/${rate(s.burnRates.fastShort)}`,
    `${rate(s.burnRates.slowLong)}/${rate(s.burnRates.slowShort)}`,
    s.status === 'ok' ? c.dim('ok') : s.status,
  ]);
  return renderTable(
    [
      'SLO',
      'INDICATOR',
      'OBJECTIVE',
      'ATTAINMENT',
      'BUDGET LEFT',
      'FAST BURN',
      'SLOW BURN',
      'STATUS',
    ],
    rows,
  );
}

function pct(v: number): string {
  return `${(Math.round(v * 10_000) / 100).toString()}%`;
}

function rate(v: number | null): string {
  return v === null ? '∞' : (Math.round(v * 10) / 10).toString();
}

function round(v: number): string {
  return (Math.round(v * 10) / 10).toString();
}
