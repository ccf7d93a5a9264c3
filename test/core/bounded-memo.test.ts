import { describe, expect, it } from 'vitest';
import { boundedMemo } from '../../src/core/bounded-memo.js';

describe('boundedMemo', () => {
  it('asks the function once per key, null answers included', () => {
    const asked: string[] = [];
    const f = boundedMemo((k: string) => {
      asked.push(k);
      return k.startsWith('/') ? null : k.toUpperCase();
    });
    expect([f('a'), f('a'), f('/p'), f('/p'), f('b')]).toEqual(['A', 'A', null, null, 'B']);
    expect(asked).toEqual(['a', '/p', 'b']);
  });

  it('holds at most `max` answers: past that it starts over, and answers stay right', () => {
    let calls = 0;
    const f = boundedMemo((n: number) => {
      calls++;
      return n * 2;
    }, 3);
    for (const n of [1, 2, 3]) f(n);
    expect(calls).toBe(3);
    expect(f(4)).toBe(8); // full: forgets 1–3
    expect(f(1)).toBe(2);
    expect(calls).toBe(5);
    expect(f(4)).toBe(8);
    expect(calls).toBe(5);
  });
});
