import ipaddr from 'ipaddr.js';
import { classifyAddress } from '../net/address-class.js';

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

/**
 * The outbound guard's verdict on a URL whose host is an IP literal (`http://169.254.169.254/`,
 * `http://127.1/`), known before anything runs; names are judged when they are resolved, at
 * run time (docs/pipeline.md, "Private addresses"). Null when nothing is wrong or the URL is
 * malformed (`urlProblem` says so).
 */
export function refusedAddressProblem(value: string, allowPrivate: boolean): string | null {
  let host: string;
  try {
    host = new URL(value).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return null;
  }
  if (!ipaddr.isValid(host)) return null;
  const verdict = classifyAddress(host);
  if (verdict.kind === 'public' || (verdict.kind === 'private' && allowPrivate)) return null;
  return verdict.kind === 'never'
    ? `${verdict.address} is ${verdict.range}; nightless never connects there`
    : `${verdict.address} is ${verdict.range}; add allow_private: true to allow it`;
}
