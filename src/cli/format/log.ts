import type { LogLine } from '../../api/types.js';
import type { Colours } from './colour.js';
import { formatClock } from './time.js';

export interface LogFormat {
  readonly timestamps: boolean;
  readonly colours: Colours;
}

/**
 * One log line for the terminal. `system` lines (nightless's own: step started, timeouts) are
 * dimmed so the build's output stands out; stdout and stderr lines are printed as they are.
 */
export function formatLogLine(line: LogLine, format: LogFormat): string {
  const c = format.colours;
  const text = line.stream === 'system' ? c.dim(line.text) : line.text;
  return format.timestamps ? `${c.dim(formatClock(line.ts))} ${text}` : text;
}
