import { z } from 'zod';
import { SLO_INDICATORS } from '../../core/slo/slo-set.js';

const rate = z.number().nullable().meta({ description: '`null`: infinite (objective 100 %).' });

/** One SLO as `GET /api/slos` and `nightless slo --json` show it (`core/slo/slo-set.ts`). */
export const SloReportSchema = z
  .object({
    name: z.string(),
    indicator: z.enum(SLO_INDICATORS),
    objective: z.number().meta({ description: 'Share of good events wanted (0.995 = 99.5 %).' }),
    windowMs: z.number(),
    good: z.number(),
    bad: z.number(),
    attainment: z.number().meta({ description: 'good / (good + bad); 1 for an empty window.' }),
    budgetEvents: z.number().meta({ description: 'Bad events the window may hold.' }),
    remainingEvents: z
      .number()
      .meta({ description: 'Budget left, in events; negative: overspent.' }),
    remainingShare: rate.meta({ description: 'Budget left as a share of the budget.' }),
    burnRates: z.object({ fastLong: rate, fastShort: rate, slowLong: rate, slowShort: rate }),
    fastBurn: z.boolean(),
    slowBurn: z.boolean(),
    status: z.enum(['ok', 'burning', 'exhausted']),
  })
  .meta({ id: 'SloReport' });

export type SloReportView = z.infer<typeof SloReportSchema>;
