import { z } from 'zod';
import { BuildSchema } from './build.js';

export const VersionRefSchema = z
  .object({ source: z.string(), version: z.string() })
  .meta({ id: 'VersionRef' });

export const TraceNodeSchema = z
  .object({
    build: BuildSchema,
    via: VersionRefSchema.meta({
      description: 'The version through which this build was reached.',
    }),
    estimatedFinishAt: z.number().nullable().meta({
      description: 'Queued/running builds: start (or now) + median recent duration; else null.',
    }),
    get children(): z.ZodReadonly<z.ZodArray<typeof TraceNodeSchema>> {
      return z.array(TraceNodeSchema).readonly();
    },
  })
  .meta({ id: 'TraceNode' });
