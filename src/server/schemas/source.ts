import { z } from 'zod';

/** One source of `GET /api/sources`. */
export const SourceSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['git', 'http', 'amqp', 'job-output']),
    url: z.string().nullable().meta({ description: 'Credentials and secret values removed.' }),
    branches: z.array(z.string()).readonly().optional().meta({ description: 'git sources only.' }),
    queue: z
      .string()
      .optional()
      .meta({
        description:
          'amqp sources only: the broker queue this installation consumes from ' +
          '(`nightless.<installation-id>.<source>`).',
      }),
    fallbackPollMs: z.number().nullable().meta({ description: '`null`: no fallback polling.' }),
    heads: z
      .array(
        z.object({
          ref: z.string().nullable(),
          version: z.string(),
          at: z.number(),
          origin: z.string(),
        }),
      )
      .readonly(),
    nextCheckAt: z.number().nullable(),
    lastCheckAt: z.number().nullable(),
    lastCheckOk: z.boolean().nullable(),
    lastError: z.string().nullable(),
    pollFailures: z.number().int(),
    missedEvents: z.number().int(),
    eventsReceived: z.number().int(),
    lastEventAt: z.number().nullable(),
  })
  .meta({ id: 'Source' });
