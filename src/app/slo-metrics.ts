import { Counter, Gauge, type Registry } from 'prom-client';
import type { SloReport } from '../core/slo/slo-set.js';

/**
 * The SLO series of `/metrics`, read from the monitor's counters at scrape time:
 * `nightless_slo_attainment`, `nightless_slo_budget_remaining` (share), `nightless_slo_burn_rate`
 * (`window`: fast_long, fast_short, slow_long, slow_short), `nightless_slo_burning` (1 while the
 * fast-burn alert fires) and `nightless_slo_alerts_total{kind}` (burning/recovered transitions).
 */
export function registerSloMetrics(
  registry: Registry,
  reports: () => SloReport[],
): { transition(slo: string, kind: 'burning' | 'recovered'): void } {
  const registers = [registry];
  const finite = (n: number) =>
    Number.isFinite(n) ? n : n > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
  new Gauge({
    name: 'nightless_slo_attainment',
    help: 'Share of good events over the SLO window.',
    labelNames: ['slo'],
    registers,
    collect() {
      this.reset();
      for (const r of reports()) this.set({ slo: r.name }, r.attainment);
    },
  });
  new Gauge({
    name: 'nightless_slo_budget_remaining',
    help: 'Error budget left over the SLO window, as a share of the budget (negative: overspent).',
    labelNames: ['slo'],
    registers,
    collect() {
      this.reset();
      for (const r of reports()) this.set({ slo: r.name }, finite(r.remainingShare));
    },
  });
  new Gauge({
    name: 'nightless_slo_burn_rate',
    help: 'Error budget burn rate per alert window (1 = spending exactly the budget).',
    labelNames: ['slo', 'window'],
    registers,
    collect() {
      this.reset();
      for (const r of reports()) {
        const b = r.burnRates;
        this.set({ slo: r.name, window: 'fast_long' }, finite(b.fastLong));
        this.set({ slo: r.name, window: 'fast_short' }, finite(b.fastShort));
        this.set({ slo: r.name, window: 'slow_long' }, finite(b.slowLong));
        this.set({ slo: r.name, window: 'slow_short' }, finite(b.slowShort));
      }
    },
  });
  new Gauge({
    name: 'nightless_slo_burning',
    help: '1 while the fast-burn alert of the SLO fires.',
    labelNames: ['slo'],
    registers,
    collect() {
      this.reset();
      for (const r of reports()) this.set({ slo: r.name }, r.fastBurn ? 1 : 0);
    },
  });
  const alerts = new Counter({
    name: 'nightless_slo_alerts_total',
    help: 'Fast-burn alerts started (burning) and ended (recovered), by SLO.',
    labelNames: ['slo', 'kind'],
    registers,
  });
  return { transition: (slo, kind) => alerts.inc({ slo, kind }) };
}
