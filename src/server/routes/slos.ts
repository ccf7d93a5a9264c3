import type { FastifyInstance } from 'fastify';
import type { SloReport } from '../../core/slo/slo-set.js';
import { SloReportSchema } from '../schemas/slo.js';
import { z } from 'zod';

/**
 * `GET /api/slos`: every SLO of the pipeline with its attainment, remaining error budget, burn
 * rates and status, evaluated now from in-memory counters (no query). A read endpoint.
 */
export function sloRoutes(reports: () => SloReport[]) {
  return function routes(app: FastifyInstance): Promise<void> {
    app.get(
      '/api/slos',
      {
        schema: {
          tags: ['slos'],
          summary: 'SLOs of the pipeline: attainment, error budget, burn rates, status',
          response: { 200: z.object({ slos: z.array(SloReportSchema) }) },
        },
      },
      () => ({ slos: reports().map(finite) }),
    );
    return Promise.resolve();
  };
}

/** JSON has no infinities: an objective without budget reports `null` where maths says ∞. */
function finite(r: SloReport): z.input<typeof SloReportSchema> {
  const f = (n: number) => (Number.isFinite(n) ? n : null);
  return {
    ...r,
    remainingShare: f(r.remainingShare),
    burnRates: {
      fastLong: f(r.burnRates.fastLong),
      fastShort: f(r.burnRates.fastShort),
      slowLong: f(r.burnRates.slowLong),
      slowShort: f(r.burnRates.slowShort),
    },
  };
}
