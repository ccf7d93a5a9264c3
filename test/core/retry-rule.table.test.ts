import { describe, expect, it } from 'vitest';
import type { FailureClass } from '../../src/core/failure-class.js';
import type { RetryPolicy } from '../../src/core/pipeline.js';
import { MAX_RETRY_BACKOFF_MS, retryPlan } from '../../src/core/retry-rule.js';

const policy: RetryPolicy = { on: ['network', 'infrastructure'], attempts: 3, backoffMs: 1_000 };

describe('retryPlan', () => {
  const rows: Array<[string, RetryPolicy | undefined, number, FailureClass | null, number | null]> =
    [
      ['no policy', undefined, 1, 'network', null],
      ['passed', policy, 1, null, null],
      ['network, first attempt', policy, 1, 'network', 1_000],
      ['infrastructure, second attempt: doubled', policy, 2, 'infrastructure', 2_000],
      ['attempts used up', policy, 3, 'network', null],
      ['a class not listed', policy, 1, 'timeout', null],
      ['a failing step is never retried', { ...policy, on: ['network'] }, 1, 'user', null],
      ['cancelled is never retried', policy, 1, 'cancelled', null],
      ['superseded is never retried', policy, 1, 'superseded', null],
      ['timeout when listed', { ...policy, on: ['timeout'] }, 1, 'timeout', 1_000],
      [
        'capped backoff',
        { ...policy, attempts: 10, backoffMs: 10 * 60_000 },
        5,
        'network',
        MAX_RETRY_BACKOFF_MS,
      ],
    ];
  it.each(rows)('%s', (_name, p, attempt, cls, expected) => {
    const plan = retryPlan(p, attempt, cls);
    expect(plan === null ? null : plan.delayMs).toBe(expected);
  });
});
