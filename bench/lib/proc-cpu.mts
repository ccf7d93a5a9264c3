import { readFileSync } from 'node:fs';
import { statFields } from '../../src/spawn/proc-files.js';

/**
 * CPU seconds of a process (all its threads) and of its children that have exited and been
 * waited for, from `/proc/<pid>/stat` (in clock ticks of 10 ms).
 */
export function procCpu(pid: number | 'self'): { self: number; children: number } {
  const fields = statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  // `statFields` starts at proc(5)'s field 3: utime (14), stime (15), cutime (16), cstime (17).
  const at = (field: number): number => Number(fields[field - 3]) / 100;
  return { self: at(14) + at(15), children: at(16) + at(17) };
}
