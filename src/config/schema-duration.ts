import { z } from 'zod';
import {
  DURATION_PATTERN,
  DURATION_PATTERN_OR_OFF,
  MAX_DURATION_MS,
  durationProblem,
  parseDuration,
} from './durations.js';
import { VALUE } from './schema-helpers.js';

/** Past the syntax: a value the parser refuses (too long for a timer, `30d`) is an error here. */
function withinMax<T extends string | number>(maxMs: number, offAllowed: boolean) {
  return (v: T, ctx: z.core.$RefinementCtx<T>) => {
    // Syntax, sign and fractions are the other checks' to report; this one only the maximum.
    if (v === 'off' || !parseDuration(v, Infinity).ok) return;
    const r = parseDuration(v, maxMs);
    if (!r.ok)
      ctx.addIssue({
        code: 'custom',
        message: `invalid duration ${VALUE}: ${r.reason}${offAllowed ? ', or off' : ''}`,
      });
  };
}

export const duration = (offAllowed: boolean, maxMs?: number) =>
  z.union([
    z
      .string()
      .regex(offAllowed ? DURATION_PATTERN_OR_OFF : DURATION_PATTERN, {
        error: (iss) => `invalid duration ${VALUE}: ${durationProblem(iss.input, offAllowed)}`,
      })
      .superRefine(withinMax<string>(maxMs ?? MAX_DURATION_MS, offAllowed)),
    z
      .number()
      .int({ error: `invalid duration ${VALUE}: a number of seconds must be a whole number` })
      .min(0, { error: `invalid duration ${VALUE}: a duration cannot be negative` })
      .superRefine(withinMax<number>(maxMs ?? MAX_DURATION_MS, offAllowed)),
    ...(offAllowed ? [z.literal(false)] : []),
  ]);

/** `90s`, `10m`, `1h30m`, a number of seconds. */
export const dur = (description: string, dflt: string | number) =>
  duration(false).optional().meta({ description, default: dflt });
/** Like `dur`, plus `off`/`false`. */
export const durOff = (description: string, dflt: string | number) =>
  duration(true).optional().meta({ description, default: dflt });
