import { z } from 'zod';
import { BuildSchema } from './build.js';

/** One job of `GET /api/jobs`. */
export const JobSchema = z
  .object({
    name: z.string(),
    inputs: z.array(z.string()).readonly(),
    steps: z.number().int().meta({ description: 'Number of steps.' }),
    outputs: z.array(z.string()).meta({ description: 'Output names.' }),
    latest: BuildSchema.nullable(),
    lastFinished: BuildSchema.nullable().meta({
      description: 'Newest passed, failed or error build.',
    }),
  })
  .meta({ id: 'Job' });
