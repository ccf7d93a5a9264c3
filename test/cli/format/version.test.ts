import { describe, expect, it } from 'vitest';
import { shortVersion, sourceAtVersion } from '../../../src/cli/format/version.js';
import { DIGEST, SHA } from '../helpers/builds.js';

describe('shortVersion', () => {
  it('shortens commit SHAs and digests to 10 hex digits', () => {
    expect(shortVersion(SHA)).toBe('3f2a1c0d9e');
    expect(shortVersion(DIGEST)).toBe('9b1e77a0c2');
    expect(shortVersion(`sha256:${DIGEST}`)).toBe('sha256:9b1e77a0c2');
  });

  it('keeps other versions whole', () => {
    expect(shortVersion('2.39-1')).toBe('2.39-1');
    expect(shortVersion('3f2a1c0')).toBe('3f2a1c0');
    expect(shortVersion('"etag-value"')).toBe('"etag-value"');
  });

  it('sourceAtVersion', () => {
    expect(sourceAtVersion('app', SHA)).toBe('app@3f2a1c0d9e');
  });
});
