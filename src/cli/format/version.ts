/**
 * Short forms of versions for tables. Commit SHAs (40 hex) and digests (64 hex, optionally
 * `sha256:`-prefixed) become their first 10 hex digits — unique enough in practice and what
 * `git log --abbrev=10` shows. Other versions (`2.39-1`, ETags) are kept whole: they are already
 * what people type.
 */
const LONG_HEX = /^(sha256:)?([0-9a-f]{40,})$/i;

export function shortVersion(version: string): string {
  const m = LONG_HEX.exec(version);
  if (!m) return version;
  return `${m[1] ?? ''}${(m[2] ?? '').slice(0, 10)}`;
}

/** `app@3f2a1c0d9e`. */
export function sourceAtVersion(source: string, version: string): string {
  return `${source}@${shortVersion(version)}`;
}
