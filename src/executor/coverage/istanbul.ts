import { round2, type ParseResult, type Percent } from './percent.js';

/**
 * istanbul `json-summary` (coverage-summary.json): `total.lines.pct` and `total.branches.pct`.
 * istanbul writes `"Unknown"` as pct when there is nothing to cover: that is `null`.
 */
export function parseIstanbulSummary(text: string): ParseResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, reason: `invalid JSON: ${(err as Error).message}` };
  }
  const total = field(data, 'total');
  if (total === undefined) return { ok: false, reason: 'no "total" object' };
  const lines = pct(field(field(total, 'lines'), 'pct'));
  if (lines === undefined) return { ok: false, reason: 'missing or invalid total.lines.pct' };
  const branches = pct(field(field(total, 'branches'), 'pct')) ?? null;
  return { ok: true, figures: { lines, branches } };
}

function field(obj: unknown, key: string): unknown {
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) return undefined;
  return (obj as Record<string, unknown>)[key];
}

function pct(v: unknown): Percent | undefined {
  if (v === 'Unknown') return null;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) return undefined;
  return round2(v);
}
