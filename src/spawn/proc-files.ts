import type { ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';

// Reading Linux's `/proc` about processes (elsewhere: what can be said without it).

/** The fields of a `/proc/<pid>/stat` line after `(comm)`, which may itself hold spaces or `)`. */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

const chunk = Buffer.alloc(64 * 1024);

/** A /proc file's text (it reports no size: read to the end); `null` when it cannot be read. */
export function readProcFile(path: string): string | null {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    return null;
  }
  try {
    const parts: string[] = [];
    for (;;) {
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) return parts.join('');
      parts.push(chunk.toString('latin1', 0, n));
    }
  } catch {
    return null;
  } finally {
    closeSync(fd);
  }
}

const HAS_PROC = existsSync('/proc/self/stat');

/**
 * Whether a process started ahead of its work (`HeldStep`, `SpareShells`, a held run) can still
 * be handed it. Node learns of a child's end on a later turn of its event loop; one killed
 * meanwhile (the OOM killer, a `pkill`) would make the work fail with the kill's exit code.
 * Linux's /proc says so at once (a zombie), for ~20 µs.
 */
export function waitingAhead(child: ChildProcess): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  if (!HAS_PROC) return true;
  const stat = readProcFile(`/proc/${child.pid}/stat`);
  if (stat === null) return false;
  const state = statFields(stat)[0];
  return state !== 'Z' && state !== 'X';
}
