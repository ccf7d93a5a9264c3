import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { classifyAddress, type AddressVerdict } from './address-class.js';

/**
 * The one gate every outgoing HTTP request of nightless passes (webhook reports, commit
 * statuses, http source checks): resolve the host once, judge every address it resolves to,
 * and connect only to those addresses (`pinnedLookup`), so a DNS answer cannot change between
 * the check and the connection. Redirects come back here hop by hop.
 */
export interface OutboundPolicy {
  /** Loopback and private ranges allowed (the target's `allow_private: true`). */
  readonly allowPrivate: boolean;
  /** How an operator allows a private target, for the refusal: `allow_private: true on ...`. */
  readonly allowHint: string;
}

/** A target nightless will not connect to: permanent, sending again cannot help. */
export class RefusedTargetError extends Error {
  readonly code = 'ERR_NIGHTLESS_REFUSED_TARGET';
  constructor(
    message: string,
    readonly verdict: Exclude<AddressVerdict, { kind: 'public' }>,
  ) {
    super(message);
    this.name = 'RefusedTargetError';
  }
}

type Resolver = (host: string) => Promise<readonly LookupAddress[]>;

const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) =>
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses),
    ),
  );

/**
 * The addresses `hostname` (a URL's hostname: IPv6 in brackets allowed) may be reached at.
 * Rejects with `RefusedTargetError` when ANY address it resolves to is refused (one bad
 * address is enough: the connection could pick it), with a plain Error when the name does not
 * resolve within `timeoutMs`. An IP literal is judged as written, without a lookup.
 */
export async function vetHost(
  hostname: string,
  policy: OutboundPolicy,
  timeoutMs: number,
  resolver: Resolver = systemResolver,
): Promise<readonly LookupAddress[]> {
  const host =
    hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  const literal = ipaddr.isValid(host);
  const addresses = literal
    ? [{ address: host, family: ipaddr.parse(host).kind() === 'ipv6' ? 6 : 4 }]
    : await withTimeout(resolver(host), timeoutMs, `resolving ${host}`);
  if (addresses.length === 0) throw new Error(`${host} resolves to no address`);
  for (const a of addresses) {
    const verdict = classifyAddress(a.address);
    if (verdict.kind === 'public') continue;
    if (verdict.kind === 'private' && policy.allowPrivate) continue;
    const what = literal
      ? `${verdict.address} is ${verdict.range}`
      : `${host} resolves to ${verdict.address}, which is ${verdict.range}`;
    throw new RefusedTargetError(
      verdict.kind === 'never'
        ? `refused: ${what}; nightless never connects there`
        : `refused: ${what}; allow with ${policy.allowHint}`,
      verdict,
    );
  }
  return addresses;
}

/**
 * A `lookup` for http.request/net.connect that answers only with the vetted addresses (no second
 * DNS query). Honours `all` (Node's happy-eyeballs asks for every address) and `family`.
 */
export function pinnedLookup(addresses: readonly LookupAddress[]): LookupFunction {
  return (hostname, options, callback) => {
    const family = options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : options.family;
    const fit = addresses.filter((a) => !family || a.family === family);
    const first = fit[0];
    if (first === undefined) {
      const err: NodeJS.ErrnoException = new Error(
        `${hostname} has no vetted IPv${String(family)} address`,
      );
      err.code = 'ENOTFOUND';
      callback(err, '', 0);
    } else if (options.all) callback(null, [...fit]);
    else callback(null, first.address, first.family);
  };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timeout after ${ms} ms ${what}`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}
