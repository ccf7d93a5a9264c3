import { z } from 'zod';
import type { RunResult } from '../../executor/port.js';

const ERROR_CODES = [
  'timeout',
  'step-timeout',
  'no-output-timeout',
  'checkout',
  'workspace',
  'outputs',
  'lost',
  'publish',
  'internal',
] as const;

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
