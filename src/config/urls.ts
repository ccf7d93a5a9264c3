/** URL checks for the places that need a particular scheme. */

export function urlProblem(value: string, schemes: readonly string[]): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be a URL (${schemes.map((s) => `${s}://`).join(' or ')}...)`;
  }
  const scheme = url.protocol.replace(/:$/, '');
  if (!schemes.includes(scheme)) return `URL scheme must be ${schemes.join(' or ')}, not ${scheme}`;
  if (url.hostname === '' && scheme !== 'file') return 'URL has no host';
  return null;
}
