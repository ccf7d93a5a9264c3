/**
 * Durations as written in the pipeline file: `500ms`, `90s`, `10m`, `1h`, `1h30m`, `2d`, or a
 * plain integer number of seconds. Results are milliseconds.
 */

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** Also used verbatim as the JSON Schema `pattern`, so editors flag a bad duration as you type. */
export const DURATION_PATTERN = /^(?:\d+|(?:\d+(?:ms|s|m|h|d))+)$/;
export const DURATION_PATTERN_OR_OFF = /^(?:off|\d+|(?:\d+(?:ms|s|m|h|d))+)$/;
const DURATION_HINT = 'use e.g. 500ms, 90s, 10m, 1h, 1h30m or a number of seconds';

/** Largest duration accepted: a timer beyond ~24 days overflows Node's setTimeout. */
export const MAX_DURATION_MS = 2_147_483_647;

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

/**
 * Largest age (`retention.age`): ages are compared with timestamps, never given to a timer, so
 * they may exceed {@link MAX_DURATION_MS}.
 */
export const MAX_AGE_MS = 36_500 * 86_400_000;

/** `maxMs`: {@link MAX_DURATION_MS} (timers) unless the value is never a timer ({@link MAX_AGE_MS}). */
export function parseDuration(input: string | number, maxMs = MAX_DURATION_MS): DurationResult {
  if (typeof input === 'number') {
    if (!Number.isInteger(input))
      return { ok: false, reason: 'a number of seconds must be a whole number' };
    if (input < 0) return { ok: false, reason: 'a duration cannot be negative' };
    return checkMax(input * 1000, maxMs);
  }
  const text = input.trim();
  if (text.startsWith('-')) return { ok: false, reason: 'a duration cannot be negative' };
  if (/^\d+$/.test(text)) return checkMax(Number(text) * 1000, maxMs);
  if (!DURATION_PATTERN.test(text)) return { ok: false, reason: DURATION_HINT };
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) {
    const unit = m[2] as keyof typeof UNIT_MS;
    ms += Number(m[1]) * UNIT_MS[unit];
  }
  return checkMax(ms, maxMs);
}

function checkMax(ms: number, maxMs: number): DurationResult {
  if (ms <= maxMs) return { ok: true, ms };
  const max = maxMs === MAX_DURATION_MS ? '24 days' : `${Math.floor(maxMs / 86_400_000)} days`;
  return { ok: false, reason: `longer than the maximum of ${max}` };
}

/** Why a duration value is not acceptable, without quoting it (it may be a secret). */
export function durationProblem(input: unknown, offAllowed: boolean): string {
  if (typeof input === 'string' || typeof input === 'number') {
    const r = parseDuration(input);
    if (!r.ok)
      return offAllowed && r.reason === DURATION_HINT ? `${DURATION_HINT}, or off` : r.reason;
  }
  return offAllowed ? `${DURATION_HINT}, or off` : DURATION_HINT;
}

/** `off`/`false` → null; anything else must already be valid (the schema checked it). */
export function durationOrOff(
  input: string | number | boolean | undefined,
  fallbackMs: number | null,
): number | null {
  if (input === undefined) return fallbackMs;
  if (input === false || input === 'off') return null;
  if (input === true) return fallbackMs;
  const r = parseDuration(input);
  if (!r.ok) throw new Error(`unvalidated duration reached the resolver: ${r.reason}`);
  return r.ms;
}

export function formatDuration(ms: number): string {
  if (ms % 1000 !== 0) return `${ms}ms`;
  let s = ms / 1000;
  const parts: string[] = [];
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.length === 0 ? '0s' : parts.join('');
}
