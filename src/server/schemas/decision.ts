import { z } from 'zod';
import { RULES } from '../../core/scheduler/index.js';

export const DecisionRecordSchema = z
  .object({
    id: z.number().int(),
    eventId: z.number().int().nullable(),
    job: z.string().nullable(),
    rule: z.enum(RULES),
    source: z.string().nullable(),
    version: z.string().nullable(),
    buildId: z.number().int().nullable(),
    detail: z.string().meta({ description: 'One sentence for people.' }),
    at: z.number(),
    origin: z.string().nullable(),
  })
  .meta({
    id: 'DecisionRecord',
    description: 'One scheduler decision, as `nightless why` shows it.',
  });
