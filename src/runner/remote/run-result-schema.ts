import { z } from 'zod';
import type { RunErrorCode, RunResult } from '../../executor/port.js';

/** Every `RunErrorCode`: an agent's `network`, `disk` or `sandbox` ending keeps its class. */
export const ERROR_CODES = [
  'timeout',
  'step-timeout',
  'no-output-timeout',
  'checkout',
  'network',
  'disk',
  'workspace',
  'outputs',
  'lost',
  'publish',
  'sandbox',
  'internal',
] as const;

// A code added to the executor and not here fails to compile, not at an agent's first report.
const allCodes: [Exclude<RunErrorCode, (typeof ERROR_CODES)[number]>] extends [never]
  ? true
  : never = true;
void allCodes;

const file = z.object({
  path: z
    .string()
    .min(1)
    .refine((p) => !p.startsWith('/') && !p.split('/').includes('..'), 'a relative path'),
  digest: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().min(0),
});

const rest = {
  outputs: z
    .array(
      z.object({
        name: z.string().min(1),
        digest: z.string().regex(/^[0-9a-f]{64}$/),
        files: z.array(file),
      }),
    )
    .max(1000),
  coverage: z.object({ lines: z.number().nullable(), branches: z.number().nullable() }).nullable(),
  warnings: z.array(z.string()).max(1000),
};

/** An agent's `RunResult` as it arrives on the wire; anything else is a 400. */
export const RunResultSchema = z.discriminatedUnion('state', [
  z.object({ state: z.literal('passed'), ...rest }),
  z.object({
    state: z.literal('failed'),
    step: z.string(),
    exitCode: z.number().int(),
    reason: z.string(),
    // The signal that ended the step (an OOM kill reads as such in its failure class).
    signal: z.string().nullable().default(null),
    ...rest,
  }),
  z.object({
    state: z.literal('error'),
    code: z.enum(ERROR_CODES),
    step: z.string().nullable(),
    reason: z.string(),
    ...rest,
  }),
  z.object({ state: z.literal('cancelled'), reason: z.string(), ...rest }),
]) satisfies z.ZodType<RunResult>;
