import { z } from 'zod';
import { BuildSchema } from './build.js';
import { DecisionRecordSchema } from './decision.js';
import { ErrorBody, notFoundErrors } from './error.js';

/**
 * What a trigger and a rebuild answer: the queued build (null when nothing was built, e.g. the
 * same fingerprint) and the decisions that say why, plus the errors both routes can give.
 */
export const triggerResponses = {
  202: z.object({
    build: BuildSchema.nullable(),
    decisions: z.array(DecisionRecordSchema).readonly(),
  }),
  ...notFoundErrors,
  409: ErrorBody,
  413: ErrorBody,
  415: ErrorBody,
} as const;
