import { describe, expect, it } from 'vitest';
import {
  closingLine,
  describeEnding,
  describeFailure,
  storedReason,
} from '../../src/core/build-ending.js';

describe('build endings: each part of the reason reads once', () => {
  it.each([
    ['cancelled', 'cancelled', 'cancelled'],
    ['cancelled', 'cancelled by api', 'cancelled by api'],
    ['cancelled', 'cancelled: a newer input set arrived', 'cancelled: a newer input set arrived'],
    ['failed', 'step "test" exited with code 1', 'failed: step "test" exited with code 1'],
    ['error', 'lost: the server stopped', 'error: lost: the server stopped'],
    ['error', 'errors: bad', 'error: errors: bad'], // a word that only starts like the state
    ['superseded', null, 'superseded'],
  ] as const)('%s + %j → %j', (state, reason, text) => {
    expect(describeEnding(state, reason)).toBe(text);
    expect(closingLine(state, reason)).toBe(`!!! ${text}`);
  });

  it('names the failed step only when the reason does not', () => {
    expect(describeFailure('test', 'step "test" exited with code 1')).toBe(
      'step "test" exited with code 1',
    );
    expect(describeFailure('test', 'checkout: cannot fetch')).toBe(
      'step "test": checkout: cannot fetch',
    );
    expect(describeFailure('test', null)).toBe('step "test"');
    expect(describeFailure(null, null)).toBeNull();
  });

  it('stores an error code once, in front', () => {
    expect(storedReason({ state: 'error', code: 'timeout', reason: 'job "x" timed out' })).toBe(
      'timeout: job "x" timed out',
    );
    expect(storedReason({ state: 'error', code: 'lost', reason: 'lost: gone' })).toBe('lost: gone');
    expect(storedReason({ state: 'cancelled', reason: 'cancelled by api' })).toBe(
      'cancelled by api',
    );
    expect(storedReason({ state: 'passed' })).toBeNull();
  });
});
