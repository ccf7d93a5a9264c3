import { z } from 'zod';
import {
  DURATION_PATTERN,
  DURATION_PATTERN_OR_OFF,
  MAX_DURATION_MS,
  durationProblem,
  parseDuration,
} from './durations.js';
import { branchPatternProblem, globProblem, workspacePathProblem } from './globs.js';
import { ENV_NAME_PATTERN, NAME_PATTERN, NAME_RULE } from './names.js';
import { VALUE } from './schema-helpers.js';
import { SIZE_HINT, SIZE_PATTERN } from './sizes.js';
import { refusedAddressProblem, urlProblem } from './urls.js';

// The value types the pipeline file's sections share (durations, sizes, names, URLs, secrets),
// so a source, a job and a report reject a bad value with the same message.

/** A string refined by `problem`; the message quotes the value as written via `%VALUE%`. */
export function checked(what: string, problem: (v: string) => string | null) {
  return z.string().superRefine((v, ctx) => {
    const p = problem(v);
    if (p !== null) ctx.addIssue({ code: 'custom', message: `${what} ${VALUE}: ${p}` });
  });
}

export const nonEmpty = z.string().min(1, { error: 'must not be empty' });

/**
 * A secret (signing key, token, password). Empty is refused, whether written `""` or resolved
 * from an environment variable that is set but empty: an HMAC with an empty key is one anyone
 * can compute, so it would authenticate every sender.
 */
export const secretText = z.string().min(1, {
  error: `empty secret ${VALUE}: a secret must have a value (an environment variable that is set but empty counts as empty)`,
});

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

export const size = z.union([
  z.string().regex(SIZE_PATTERN, { error: `invalid size ${VALUE}: ${SIZE_HINT}` }),
  z
    .number()
    .int()
    .min(0, { error: `invalid size ${VALUE}: ${SIZE_HINT}` }),
]);

export const name = (what: string) =>
  z.string().regex(NAME_PATTERN, { error: `invalid ${what} name ${VALUE}: ${NAME_RULE}` });
export const envName = z.string().regex(ENV_NAME_PATTERN, {
  error: `invalid environment variable name ${VALUE}: use letters, digits and "_", not starting with a digit`,
});

export const httpUrl = checked('invalid URL', (v) => urlProblem(v, ['http', 'https']));
export const amqpUrl = checked('invalid URL', (v) => urlProblem(v, ['amqp', 'amqps']));
export const branchPattern = checked('invalid branch pattern', branchPatternProblem);
export const glob = checked('invalid glob', globProblem);
export const workspaceGlob = checked('invalid path', workspacePathProblem);
export const scalar = z.union([z.string(), z.number(), z.boolean()]);
export const envMap = z.record(envName, scalar).meta({
  description: 'Environment variables for the steps. `${env:NAME}` values are secret and masked.',
});

/**
 * A `url` key whose host is an IP literal the outbound guard would refuse: an error at `check`
 * rather than a dead delivery later.
 */
export function refusedUrl(key: string) {
  return (obj: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const url = obj[key];
    if (typeof url !== 'string') return;
    const p = refusedAddressProblem(url, obj['allow_private'] === true);
    if (p !== null)
      ctx.addIssue({ code: 'custom', path: [key], message: `refused URL ${VALUE}: ${p}` });
  };
}

/** The SSRF guard's opt-in (docs/pipeline.md, "Private addresses"). */
export const allowPrivate = (what: string) =>
  z
    .boolean()
    .optional()
    .meta({
      description: `Allow ${what} loopback and private addresses (127.0.0.0/8, 10/8, 172.16/12, 192.168/16, fc00::/7, ...). Link-local and cloud metadata addresses stay refused.`,
      default: false,
    });
