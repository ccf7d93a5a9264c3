/**
 * Makes configured URLs, and messages that quote them, safe to show: user and password removed,
 * known secret values masked. Works on the text rather than through `new URL()` so a URL
 * otherwise reads exactly as configured (no added trailing slash, no re-encoding).
 */
export function redactText(text: string, secretValues: readonly string[] = []): string {
  // scheme://user:pass@host → scheme://host; greedy to the last `@` of the authority, as URL parsers do.
  let out = text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/?#\s]*@/gi, '$1');
  for (const secret of secretValues) {
    // Very short values would mask unrelated characters; the loader never resolves such secrets.
    if (secret.length >= 4) out = out.replaceAll(secret, '***');
  }
  return out;
}

/** A source URL for display; also strips a password from scp-like git syntax (`user:pw@host:path`). */
export function displayUrl(url: string, secretValues: readonly string[] = []): string {
  return redactText(url.replace(/^[^@/:\s]+:[^@/\s]*@(?=[^@/:\s]+:)/, ''), secretValues);
}
