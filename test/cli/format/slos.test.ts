import { describe, expect, it } from 'vitest';
import { formatSlos } from '../../../src/cli/format/slos.js';
import type { SloReportView } from '../../../src/server/schemas/slo.js';
import { createColours } from '../../../src/cli/format/colour.js';

const c = createColours(false);
const base: SloReportView = {
  name: 'reliability',
  indicator: 'reliability',
  objective: 0.995,
  windowMs: 28 * 86_400_000,
  good: 1497,
  bad: 3,
  attainment: 0.998,
  budgetEvents: 7.5,
  remainingEvents: 4.5,
  remainingShare: 0.6,
  burnRates: { fastLong: 0, fastShort: 0, slowLong: 0.4, slowShort: 0 },
  fastBurn: false,
  slowBurn: false,
  status: 'ok',
};

describe('nightless slo (table)', () => {
  it('shows objective, attainment, budget, burn pairs and status per SLO', () => {
    const lines = formatSlos(
      [
        base,
        {
          ...base,
          name: 'start',
          status: 'burning',
          burnRates: { ...base.burnRates, fastLong: 20, fastShort: null },
        },
      ],
      c,
    );
    expect(lines[0]).toMatch(
      /^SLO\s+INDICATOR\s+OBJECTIVE\s+ATTAINMENT\s+BUDGET LEFT\s+FAST BURN\s+SLOW BURN\s+STATUS$/,
    );
    expect(lines[1]).toMatch(
      /^reliability\s+reliability\s+99\.5% \/ 28d\s+99\.8% \(3\/1500 bad\)\s+60% \(4\.5 events\)\s+0\/0\s+0\.4\/0\s+ok$/,
    );
    expect(lines[2]).toMatch(/20\/∞.*burning$/);
  });

  it('says so when no SLO is declared', () => {
    expect(formatSlos([], c)).toEqual([
      'no SLOs declared (add `slos:` to the pipeline file; see docs/slo.md)',
    ]);
  });
});
