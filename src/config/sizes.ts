/**
 * Byte sizes: an integer number of bytes or `10MB`-style text. KB/MB/GB are decimal (1000),
 * KiB/MiB/GiB binary (1024), so `100MB` means what a disk vendor and `du --si` say.
 */

const UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

export const SIZE_PATTERN = /^\d+(?:\.\d+)?\s*(?:[bB]|[kKmMgG][bB]|[kKmMgG]i[bB])?$/;
export const SIZE_HINT = 'use a number of bytes or e.g. 512KB, 10MB, 1GiB';

export function parseSize(input: string | number): number | null {
  if (typeof input === 'number') return Number.isInteger(input) && input >= 0 ? input : null;
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(input.trim());
  if (m === null) return null;
  const unit = UNITS[(m[2] ?? '').toLowerCase() || 'b'];
  if (unit === undefined) return null;
  return Math.round(Number(m[1]) * unit);
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}
