import { describe, expect, it } from 'vitest';
import { isFullSha } from '../../src/core/git-sha.js';

describe('isFullSha', () => {
  it('takes whole SHA-1 and SHA-256 names as git prints them, nothing else', () => {
    expect(isFullSha('a'.repeat(40))).toBe(true);
    expect(isFullSha('0123456789abcdef'.repeat(4))).toBe(true);
    for (const not of [
      'a'.repeat(39),
      'a'.repeat(41),
      'a'.repeat(63),
      'A'.repeat(40),
      `${'a'.repeat(39)}g`,
      'abc1234',
      '',
      `${'a'.repeat(40)}\n`,
      `-${'a'.repeat(39)}`,
    ])
      expect(isFullSha(not)).toBe(false);
  });
});
