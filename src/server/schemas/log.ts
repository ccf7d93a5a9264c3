import { z } from 'zod';

/** One line of a build log (`GET /api/builds/:id/log`). */
export const LogLineSchema = z
  .object({
    ts: z.number().meta({ description: 'Epoch milliseconds when the line was written.' }),
    stream: z.enum(['stdout', 'stderr', 'system']),
    text: z.string(),
  })
  .meta({ id: 'LogLine' });
