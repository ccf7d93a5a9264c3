import { describe, expect, it } from 'vitest';
import { failureClassOf } from '../../../src/core/failure-class.js';
import { ERROR_CODES, RunResultSchema } from '../../../src/runner/remote/run-result-schema.js';

/** An agent's result on the wire keeps what the failure class is derived from. */
const rest = { outputs: [], coverage: null, warnings: [] };

describe("an agent's result", () => {
  it('accepts every error code the executor has, keeping its failure class', () => {
    for (const code of ERROR_CODES) {
      const parsed = RunResultSchema.safeParse({
        state: 'error',
        code,
        step: null,
        reason: code,
        ...rest,
      });
      expect(parsed.success, code).toBe(true);
    }
    const network = RunResultSchema.parse({
      state: 'error',
      code: 'network',
      step: null,
      reason: 'git fetch failed: Connection refused',
      ...rest,
    });
    expect(failureClassOf(network)).toBe('network');
  });

  it("keeps the signal that ended a failed step, and refuses codes it doesn't know", () => {
    const failed = RunResultSchema.parse({
      state: 'failed',
      step: 'test',
      exitCode: 137,
      reason: 'killed',
      signal: 'SIGKILL',
      ...rest,
    });
    expect(failed).toMatchObject({ state: 'failed', signal: 'SIGKILL' });
    const bad = { state: 'error', code: 'made-up', step: null, reason: 'x', ...rest };
    expect(RunResultSchema.safeParse(bad).success).toBe(false);
  });
});
