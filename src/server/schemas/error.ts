import { z } from 'zod';

/** Every error the API returns has this body (`docs/api.md`, "Errors"). */
export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable machine-readable code, `NL_...`.' }),
      message: z.string().meta({ description: 'One sentence for people.' }),
      details: z.unknown().optional(),
    }),
  })
  .meta({ id: 'ErrorBody', description: 'The body of every error response.' });

export type ErrorBody = z.infer<typeof ErrorBody>;

/** Declared on every route so the OpenAPI document lists each error a client may meet. */
export const commonErrors = {
  400: ErrorBody,
  401: ErrorBody,
  500: ErrorBody,
} as const;

export const notFoundErrors = { ...commonErrors, 404: ErrorBody } as const;
