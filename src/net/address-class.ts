import ipaddr from 'ipaddr.js';

/**
 * What an IP address is, for deciding whether nightless may send a request to it (SSRF guard).
 * Pure: no lookup, no clock. Parsing is ipaddr.js's, which reads every form a resolver or a URL
 * may produce (`127.1`, `0x7f000001`, `2130706433`, `::ffff:127.0.0.1`, ...), so nothing here
 * hand-parses addresses.
 *
 * - `never`: link-local (169.254.0.0/16, fe80::/10, which holds cloud metadata endpoints),
 *   the AWS IPv6 metadata address fd00:ec2::254, unspecified (0.0.0.0/8, ::), multicast,
 *   broadcast and reserved ranges. No setting allows these.
 * - `private`: loopback, RFC 1918, unique-local (fc00::/7), carrier-grade NAT and the other
 *   special-purpose ranges; allowed only when the operator opts in (`allow_private: true`).
 * - `public`: global unicast.
 */
export type AddressVerdict =
  | { readonly kind: 'public'; readonly address: string }
  | { readonly kind: 'private' | 'never'; readonly address: string; readonly range: string };

/** AWS's IPv6 instance metadata endpoint (inside unique-local fc00::/7, so named on its own). */
const METADATA_V6 = ipaddr.parse('fd00:ec2::254');

/** ipaddr.js range names that no setting allows. */
const NEVER_RANGES: Readonly<Record<string, string>> = {
  unspecified: 'unspecified',
  broadcast: 'broadcast',
  multicast: 'multicast',
  linkLocal: 'link-local (cloud metadata lives here)',
  reserved: 'reserved',
};

/** ipaddr.js range names worth a readable word in the refusal. */
const PRIVATE_NAMES: Readonly<Record<string, string>> = {
  loopback: 'loopback',
  private: 'private',
  uniqueLocal: 'unique-local (private)',
  carrierGradeNat: 'carrier-grade NAT (private)',
};

/**
 * Classifies one IP address given as text (any form ipaddr.js reads, with or without IPv6
 * brackets). IPv4-mapped and IPv4-compatible IPv6 addresses are judged as the IPv4 address
 * they carry; NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses by the IPv4 address they
 * embed as well, so `64:ff9b::7f00:1` is no way around a refused 127.0.0.1.
 * Throws on text that is not an IP address.
 */
export function classifyAddress(text: string): AddressVerdict {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  if (!ipaddr.isValid(bare)) throw new Error(`not an IP address: ${JSON.stringify(text)}`);
  const addr = ipaddr.process(bare);
  const address = addr.toString();
  if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).match(METADATA_V6, 128))
    return { kind: 'never', address, range: 'cloud metadata' };
  const range = addr.range();
  const never = NEVER_RANGES[range];
  if (never !== undefined) return { kind: 'never', address, range: never };
  if (range === 'unicast') return { kind: 'public', address };
  const embedded = embeddedIpv4(addr, range);
  if (embedded !== null) {
    const inner = classifyAddress(embedded.toString());
    return inner.kind === 'public'
      ? { kind: 'public', address }
      : { kind: inner.kind, address, range: `${inner.range}, via ${range}` };
  }
  return { kind: 'private', address, range: PRIVATE_NAMES[range] ?? `special-purpose (${range})` };
}

/** The IPv4 address a NAT64 or 6to4 address carries; null for every other kind. */
function embeddedIpv4(addr: ipaddr.IPv4 | ipaddr.IPv6, range: string): ipaddr.IPv4 | null {
  if (addr.kind() !== 'ipv6') return null;
  const bytes = addr.toByteArray();
  if (range === 'rfc6052') return ipaddr.fromByteArray(bytes.slice(12, 16)) as ipaddr.IPv4;
  if (range === '6to4') return ipaddr.fromByteArray(bytes.slice(2, 6)) as ipaddr.IPv4;
  return null;
}
