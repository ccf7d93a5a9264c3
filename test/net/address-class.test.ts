import { describe, expect, it } from 'vitest';
import { classifyAddress } from '../../src/net/address-class.js';

/** One row per written form: what it is after parsing, and the verdict. */
const TABLE: ReadonlyArray<readonly [string, 'public' | 'private' | 'never', string]> = [
  // Loopback in every IPv4 spelling, and through IPv6.
  ['127.0.0.1', 'private', 'loopback'],
  ['127.1', 'private', 'loopback'],
  ['0x7f000001', 'private', 'loopback'],
  ['0x7f.0.0.1', 'private', 'loopback'],
  ['2130706433', 'private', 'loopback'],
  ['017700000001', 'private', 'loopback'],
  ['127.255.255.254', 'private', 'loopback'],
  ['::1', 'private', 'loopback'],
  ['[::1]', 'private', 'loopback'],
  ['::ffff:127.0.0.1', 'private', 'loopback'],
  ['::ffff:7f00:1', 'private', 'loopback'],
  ['[::ffff:127.0.0.1]', 'private', 'loopback'],
  ['::127.0.0.1', 'private', 'loopback'],
  ['64:ff9b::7f00:1', 'private', 'loopback, via rfc6052'],
  ['2002:7f00:1::', 'private', 'loopback, via 6to4'],
  // Private ranges.
  ['10.1.2.3', 'private', 'private'],
  ['172.16.0.1', 'private', 'private'],
  ['192.168.1.1', 'private', 'private'],
  ['0xc0a80101', 'private', 'private'],
  ['::ffff:10.0.0.1', 'private', 'private'],
  ['fc00::1', 'private', 'unique-local (private)'],
  ['fd12:3456::1', 'private', 'unique-local (private)'],
  ['100.64.0.1', 'private', 'carrier-grade NAT (private)'],
  // Never: link-local and cloud metadata, unspecified, multicast, broadcast, reserved.
  ['169.254.169.254', 'never', 'link-local (cloud metadata lives here)'],
  ['0xa9fea9fe', 'never', 'link-local (cloud metadata lives here)'],
  ['2852039166', 'never', 'link-local (cloud metadata lives here)'],
  ['::ffff:169.254.169.254', 'never', 'link-local (cloud metadata lives here)'],
  ['::ffff:a9fe:a9fe', 'never', 'link-local (cloud metadata lives here)'],
  ['64:ff9b::a9fe:a9fe', 'never', 'link-local (cloud metadata lives here), via rfc6052'],
  ['fe80::1', 'never', 'link-local (cloud metadata lives here)'],
  ['febf::1', 'never', 'link-local (cloud metadata lives here)'],
  ['fd00:ec2::254', 'never', 'cloud metadata'],
  ['[fd00:ec2:0:0:0:0:0:254]', 'never', 'cloud metadata'],
  ['0.0.0.0', 'never', 'unspecified'],
  ['0', 'never', 'unspecified'],
  ['0.1.2.3', 'never', 'unspecified'],
  ['::', 'never', 'unspecified'],
  ['224.0.0.1', 'never', 'multicast'],
  ['239.255.255.250', 'never', 'multicast'],
  ['ff02::1', 'never', 'multicast'],
  ['255.255.255.255', 'never', 'broadcast'],
  ['240.0.0.1', 'never', 'reserved'],
  // Public.
  ['8.8.8.8', 'public', ''],
  ['93.184.215.14', 'public', ''],
  ['2606:4700::1111', 'public', ''],
  ['::ffff:8.8.8.8', 'public', ''],
  ['64:ff9b::808:808', 'public', ''],
];

describe('classifyAddress (the pure half of the outbound guard)', () => {
  it.each(TABLE)('%s is %s (%s)', (text, kind, range) => {
    const v = classifyAddress(text);
    expect(v.kind).toBe(kind);
    if (v.kind !== 'public') expect(v.range).toBe(range);
  });

  it('names the address in its canonical form', () => {
    expect(classifyAddress('0x7f000001').address).toBe('127.0.0.1');
    expect(classifyAddress('::ffff:7f00:1').address).toBe('127.0.0.1');
    expect(classifyAddress('2852039166').address).toBe('169.254.169.254');
  });

  it('throws on text that is not an address', () => {
    expect(() => classifyAddress('localhost')).toThrow('not an IP address: "localhost"');
    expect(() => classifyAddress('256.0.0.1')).toThrow('not an IP address');
    expect(() => classifyAddress('')).toThrow('not an IP address');
  });
});
