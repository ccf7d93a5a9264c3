import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readProcFile, statFields } from './kill-tree.js';

const HAS_PROC = existsSync('/proc/self/stat');

/**
 * Whether a process started ahead of its step (`HeldStep`, `SpareShells`) can still be handed
 * it. Node learns of a child's end on a later turn of its event loop; one killed meanwhile (the
 * OOM killer, a `pkill`) would make the step fail with the kill's exit code. Linux's /proc says
 * so at once (a zombie), for ~20 µs.
 */
export function waitingAhead(child: ChildProcess): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  if (!HAS_PROC) return true;
  const stat = readProcFile(`/proc/${child.pid}/stat`);
  if (stat === null) return false;
  const state = statFields(stat)[0];
  return state !== 'Z' && state !== 'X';
}

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
