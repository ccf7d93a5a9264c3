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
