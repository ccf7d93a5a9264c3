import { z } from 'zod';
import { SLO_INDICATORS, TIMED_INDICATORS } from '../core/slo/slo-set.js';
import { MAX_AGE_MS } from './durations.js';
import { duration } from './schema-fields.js';
import { strict, VALUE } from './schema-helpers.js';

const windowPair = z
  .tuple([duration(false, MAX_AGE_MS), duration(false, MAX_AGE_MS)])
  .meta({ description: '[long, short] windows; both must burn faster than the threshold.' });

/** One entry of `slos:`. */
export const slo = strict({
  indicator: z.enum(SLO_INDICATORS).meta({
    description:
      '`reliability`: finished builds not ending in `network`/`infrastructure`; `start_latency`: new versions whose first build started within `threshold` of the event; `delivery`: lifecycle events every report target was done with within `threshold`, none given up; `lead_time`: versions whose whole downstream trace (every build they caused, transitively through job outputs) was done within `threshold` of the event.',
  }),
  objective: z
    .number({ error: `invalid objective ${VALUE}: a percentage such as 99.5` })
    .gt(0, { error: `invalid objective ${VALUE}: must be above 0 and below 100 (percent)` })
    .lt(100, { error: `invalid objective ${VALUE}: must be above 0 and below 100 (percent)` })
    .meta({ description: 'Percentage of good events wanted over the window, e.g. 99.5.' }),
  window: duration(false, MAX_AGE_MS)
    .optional()
    .meta({ description: 'Rolling window of the error budget.', default: '28d' }),
  threshold: duration(false).optional().meta({
    description:
      "`start_latency`: the most a first build may start after the event; `delivery`: the most the last report target may take; `lead_time`: the most a version's whole downstream trace may take.",
  }),
  fast_burn: windowPair
    .optional()
    .meta({ description: 'Fast-burn alert windows (default [1h, 5m], threshold 14.4).' }),
  slow_burn: windowPair
    .optional()
    .meta({ description: 'Slow-burn alert windows (default [6h, 30m], threshold 6).' }),
}).superRefine((s, ctx) => {
  if (TIMED_INDICATORS.includes(s.indicator) && s.threshold === undefined)
    ctx.addIssue({
      code: 'custom',
      path: ['threshold'],
      message: `a ${s.indicator} SLO needs a threshold (e.g. threshold: 30s)`,
    });
});

export const slos = z.record(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/), slo).meta({
  description:
    'Service level objectives of the pipeline itself, with error budgets and multiwindow burn-rate alerts (docs/slo.md).',
});
