import { round2, type ParseResult, type Percent } from './percent.js';

/** The opening tag of the root `<coverage>` element, after an optional prolog, comments and doctype. */
const ROOT_RE = /^\s*(?:<\?[\s\S]*?\?>\s*|<!--[\s\S]*?-->\s*|<!DOCTYPE[^>]*>\s*)*<coverage(\s[^>]*)?>/;
const ATTR_RE = /([A-Za-z_:][\w.:-]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;

/**
 * Cobertura XML: the `line-rate` and `branch-rate` (0–1) attributes of the root `<coverage>`.
 * Only the root's opening tag is read, with a small attribute regex — no XML library needed.
 * `branches-valid="0"` means the tool measured no branches: branches are `null`, not 0 %.
 */
export function parseCobertura(text: string): ParseResult {
  const root = ROOT_RE.exec(text);
  if (root === null) return { ok: false, reason: 'no root <coverage> element' };
  const attrs = new Map<string, string>();
  for (const m of (root[1] ?? '').matchAll(ATTR_RE)) attrs.set(m[1] ?? '', m[2] ?? m[3] ?? '');
  const lines = rate(attrs.get('line-rate'));
  if (lines === undefined) return { ok: false, reason: 'missing or invalid line-rate attribute' };
  let branches = rate(attrs.get('branch-rate'));
  if (branches === undefined || attrs.get('branches-valid') === '0') branches = null;
  return { ok: true, figures: { lines, branches } };
}

/** `undefined` = unusable; 0–1 → percent. */
function rate(value: string | undefined): Percent | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) return undefined;
  return round2(n * 100);
}
