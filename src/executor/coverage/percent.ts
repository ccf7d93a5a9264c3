/** A coverage figure: percent 0–100 with two decimals, or `null` when there is nothing to cover. */
export type Percent = number | null;

export interface CoverageFigures {
  readonly lines: Percent;
  readonly branches: Percent;
}

/** Parsers return figures or a reason why the report is unusable; they never throw. */
export type ParseResult = { readonly ok: true; readonly figures: CoverageFigures } | { readonly ok: false; readonly reason: string };

export function round2(pct: number): number {
  return Math.round(Math.min(100, Math.max(0, pct)) * 100) / 100;
}

export function ratio(hit: number, found: number): Percent {
  return found > 0 ? round2((hit / found) * 100) : null;
}
