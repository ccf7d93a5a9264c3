import type { SloReport } from './slo-set.js';

/**
 * A fast-burn alert of an SLO started (`burning`) or ended (`recovered`): what the outbox keeps
 * so reporters deliver `dev.nightless.slo.*` with the retries and dead letters of build events.
 */
export interface SloAlert {
  readonly kind: 'burning' | 'recovered';
  readonly pipeline: string;
  /** JSON has no infinities: a burn rate of an empty window is `null` once stored. */
  readonly report: SloReport;
  readonly at: number;
}

export type SloOutboxType = `slo.${SloAlert['kind']}`;

export function isSloOutboxType(type: string): type is SloOutboxType {
  return type === 'slo.burning' || type === 'slo.recovered';
}
