import ipaddr from 'ipaddr.js';

/**
 * True when `host` (as given to `--host`) only accepts connections from this machine: `localhost`,
 * 127.0.0.0/8, `::1` or an IPv4-mapped loopback address. `0.0.0.0` and `::` listen everywhere.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  if (bare.toLowerCase() === 'localhost') return true;
  if (!ipaddr.isValid(bare)) return false;
  const addr = ipaddr.process(bare);
  return addr.range() === 'loopback';
}
