/**
 * Times for people. Absolute times are local (the reader's clock); relative times are coarse in
 * the past ("3m ago": nobody needs seconds of history) and precise in the future ("in 4m12s":
 * people wait for it).
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const pad2 = (n: number): string => String(n).padStart(2, '0');

/** `14:05:09`, local time. */
export function formatClock(at: number): string {
  const d = new Date(at);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** `2025-03-01 14:05:09`, local time. */
export function formatTimestamp(at: number): string {
  const d = new Date(at);
  return `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${formatClock(at)}`;
}

/** A length of time with at most two units: `850ms`, `42s`, `4m12s`, `3m`, `1h5m`, `2d3h`. */
export function formatSpan(ms: number): string {
  const abs = Math.max(0, Math.round(ms));
  if (abs < SECOND) return `${abs}ms`;
  if (abs < MINUTE) return `${Math.floor(abs / SECOND)}s`;
  const two = (big: number, bigUnit: string, small: number, smallUnit: string): string =>
    small > 0 ? `${big}${bigUnit}${small}${smallUnit}` : `${big}${bigUnit}`;
  if (abs < HOUR)
    return two(Math.floor(abs / MINUTE), 'm', Math.floor((abs % MINUTE) / SECOND), 's');
  if (abs < DAY) return two(Math.floor(abs / HOUR), 'h', Math.floor((abs % HOUR) / MINUTE), 'm');
  return two(Math.floor(abs / DAY), 'd', Math.floor((abs % DAY) / HOUR), 'h');
}

/** `just now`, `12s ago`, `3m ago`, `5h ago`, `2d ago`; future times: `in 4m12s`. */
export function formatRelative(at: number, now: number): string {
  const diff = at - now;
  if (diff >= SECOND) return `in ${formatSpan(diff)}`;
  const ago = -diff;
  if (ago < 5 * SECOND) return 'just now';
  if (ago < MINUTE) return `${Math.floor(ago / SECOND)}s ago`;
  if (ago < HOUR) return `${Math.floor(ago / MINUTE)}m ago`;
  if (ago < DAY) return `${Math.floor(ago / HOUR)}h ago`;
  return `${Math.floor(ago / DAY)}d ago`;
}

/** `2025-03-01 14:05:09 (3m ago)`. */
export function formatWhen(at: number, now: number): string {
  return `${formatTimestamp(at)} (${formatRelative(at, now)})`;
}
