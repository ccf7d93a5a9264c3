import { describe, expect, it } from 'vitest';
import { statusOf } from '../../src/reporters/commit-status/status-of-build.js';
import type { Build } from '../../src/core/build.js';
import { buildFixture } from '../../src/testing/build-fixture.js';

const makeBuild = (overrides: Partial<Build>): Build => ({
  ...buildFixture(42, 'build', overrides.state ?? 'passed'),
  ...overrides,
});

describe('commit-status descriptions say whose failure it is, once', () => {
  it.each([
    [
      makeBuild({
        state: 'failed',
        failedStep: 'test',
        failureClass: 'user',
        reason: 'step "test" exited with code 3',
        coverage: null,
      }),
      /^failed \[user\] at test/,
    ],
    [
      makeBuild({
        state: 'failed',
        failedStep: 'test',
        failureClass: 'infrastructure',
        reason: 'step "test" was killed by SIGKILL',
        coverage: null,
      }),
      /^failed \[infrastructure\] at test/,
    ],
    [
      makeBuild({
        state: 'error',
        failureClass: 'infrastructure',
        reason: 'lost: the server stopped while the build was running',
      }),
      /^error \[infrastructure\]: lost: /,
    ],
    [
      makeBuild({
        state: 'error',
        failureClass: 'network',
        reason: 'network: git clone of http://x failed: Operation too slow',
      }),
      /^error: network: git clone/,
    ],
  ])('%#', (build, expected) => {
    expect(statusOf('finished', build, null).description).toMatch(expected);
  });
});
