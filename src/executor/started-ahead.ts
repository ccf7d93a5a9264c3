import type { ChildProcess } from 'node:child_process';

/**
 * Ends a process started ahead that was never handed its step: EOF on its stdin (its `read`
 * fails, so it exits without running anything), SIGKILL to its group, its pipes closed.
 */
export function endUnused(child: ChildProcess): void {
  child.stdin?.destroy();
  if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  child.stdout?.destroy();
  child.stderr?.destroy();
}
