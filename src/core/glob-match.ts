import picomatch from 'picomatch';

const cache = new Map<string, (s: string) => boolean>();

/** Whether `value` matches any of the glob patterns (`release/*`, `src/**`); `*` stops at `/`. */
export function matchesAny(value: string, patterns: readonly string[]): boolean {
  return patterns.some((p) => matcher(p)(value));
}

function matcher(pattern: string): (s: string) => boolean {
  let m = cache.get(pattern);
  if (!m) {
    m = picomatch(pattern, { dot: true });
    cache.set(pattern, m);
  }
  return m;
}
