import { ratio, type ParseResult } from './percent.js';

/** lcov tracefile: sums `LF`/`LH` (lines found/hit) and `BRF`/`BRH` (branches) over all records. */
export function parseLcov(text: string): ParseResult {
  const sums = { LF: 0, LH: 0, BRF: 0, BRH: 0 };
  let records = 0;
  for (const raw of text.split('\n')) {
    const m = /^(LF|LH|BRF|BRH):\s*(\d+)\s*$/.exec(raw.trim());
    if (m === null) continue;
    const key = m[1] as keyof typeof sums;
    sums[key] += Number(m[2]);
    if (key === 'LF') records++;
  }
  if (records === 0) return { ok: false, reason: 'no LF records (not an lcov tracefile?)' };
  if (sums.LH > sums.LF || sums.BRH > sums.BRF) return { ok: false, reason: 'hit counts exceed found counts' };
  return { ok: true, figures: { lines: ratio(sums.LH, sums.LF), branches: ratio(sums.BRH, sums.BRF) } };
}
