import { diskFull } from './disk-full.js';
import type { RunOutcome } from './port.js';
import type { StepOutcome } from './step-runner.js';

/**
 * What a step's end means for its build: `null` to go on (exit 0), else the build's outcome,
 * with the log line that says how the step stopped (its reason follows in the closing line).
 * A step that failed with its workspace's file system full is a `disk` error, not the user's.
 */
export async function stepVerdict(
  r: StepOutcome,
  step: string,
  workspace: string,
  took: string,
): Promise<{ readonly line: string; readonly outcome: RunOutcome | null }> {
  const quoted = JSON.stringify(step);
  if (r.kind === 'exited') {
    const line = `<== exit ${r.exitCode}${r.signal === null ? '' : ` (${r.signal})`} in ${took}`;
    if (r.exitCode === 0) return { line, outcome: null };
    const how = r.signal === null ? `exited with code ${r.exitCode}` : `was killed by ${r.signal}`;
    const full = await diskFull(workspace);
    const reason = `step ${quoted} ${how}`;
    const outcome: RunOutcome =
      full === null
        ? { state: 'failed', step, exitCode: r.exitCode, reason, signal: r.signal }
        : {
            state: 'error',
            code: 'disk',
            step,
            reason: `disk: ${reason} with the workspace's file system full (${full})`,
          };
    return { line, outcome };
  }
  switch (r.kind) {
    case 'timeout':
      return {
        line: `<== timed out after ${took}`,
        outcome: { state: 'error', code: r.code, step, reason: r.reason },
      };
    case 'cancelled':
      return {
        line: `<== cancelled after ${took}`,
        outcome: { state: 'cancelled', reason: r.reason },
      };
    case 'sandbox-error':
      return {
        line: `<== sandbox failed after ${took}`,
        outcome: { state: 'error', code: 'sandbox', step, reason: r.reason },
      };
    case 'spawn-error':
      return {
        line: `<== not started after ${took}`,
        outcome: {
          state: 'error',
          code: 'internal',
          step,
          reason: `cannot start step ${quoted}: ${r.reason}`,
        },
      };
  }
}
