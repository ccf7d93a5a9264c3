import { z } from 'zod';

/** A positive integer in the path or query (`/api/builds/:id`); strings are coerced. */
export const positiveInt = () => z.coerce.number().int().positive();

export const BuildIdParams = z.object({
  id: positiveInt().meta({ description: 'Build id.' }),
});

/** Bearer auth on one route, for the OpenAPI document (the hook in `auth.ts` enforces it). */
export const bearerSecurity = [{ bearer: [] }];

/** `?follow=1` / `true` / `yes` and their opposites. */
export const queryFlag = () =>
  z.stringbool({ truthy: ['1', 'true', 'yes'], falsy: ['0', 'false', 'no'] });

/** Who asked, as the client says (a label in the build's cause, not an identity check). */
export const ByField = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[\x21-\x7e][\x20-\x7e]*$/, 'printable ASCII')
  .optional()
  .meta({ description: 'Who asks, recorded in the cause (default `api`).' });
