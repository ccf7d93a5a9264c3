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
      description:
        'Queued/running builds: when it should finish, counting the builds ahead of it in the queue, the slots and median recent durations; else null.',
    }),
    reused: z.object({ identicalOutputOf: z.number().int() }).nullable().meta({
      description:
        "Reached through an output identical to build `identicalOutputOf`'s: not rebuilt for this version.",
    }),
    get children(): z.ZodReadonly<z.ZodArray<typeof TraceNodeSchema>> {
      return z.array(TraceNodeSchema).readonly();
    },
    get expected(): z.ZodReadonly<z.ZodArray<typeof ExpectedJobSchema>> {
      return z.array(ExpectedJobSchema).readonly();
    },
  })
  .meta({ id: 'TraceNode' });

export const ExpectedJobSchema = z
  .object({
    job: z.string(),
    via: z.string().meta({ description: 'The output source (`build.dist`) it will consume.' }),
    estimatedFinishAt: z.number().nullable(),
    get expected(): z.ZodReadonly<z.ZodArray<typeof ExpectedJobSchema>> {
      return z.array(ExpectedJobSchema).readonly();
    },
  })
  .meta({
    id: 'ExpectedJob',
    description: 'A job an unfinished build will feed, not queued yet, with an estimate.',
  });
