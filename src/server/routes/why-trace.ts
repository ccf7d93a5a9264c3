import { z } from 'zod';
import { AmbiguousVersionError, traceVersion, VersionNotFoundError } from '../../engine/trace.js';
import { ApiError } from '../errors.js';
import type { ApiApp, RouteContext } from '../options.js';
import { DecisionRecordSchema } from '../schemas/decision.js';
import { ErrorBody, notFoundErrors } from '../schemas/error.js';
import { TraceNodeSchema } from '../schemas/trace.js';
import { didYouMean } from '../../config/names.js';

const WHY_LIMIT = 100;

/** `GET /api/why` (why did/didn't a job build) and `GET /api/trace/:source/:version` (where did a change go). */
export function whyTraceRoutes(app: ApiApp, ctx: RouteContext): void {
  const { engine } = ctx.opts;

  app.get(
    '/api/why',
    {
      schema: {
        tags: ['trace'],
        summary: 'The scheduler decisions about a job, newest first',
        querystring: z.strictObject({
          job: z.string().min(1),
          version: z
            .string()
            .min(1)
            .optional()
            .meta({ description: 'Only decisions about this version (or prefix).' }),
        }),
        response: {
          200: z.object({ job: z.string(), decisions: z.array(DecisionRecordSchema).readonly() }),
          ...notFoundErrors,
        },
      },
    },
    async (request) => {
      const { job, version } = request.query;
      if (!engine.pipeline.jobs.has(job))
        throw ApiError.notFound(
          `no job "${job}" in the pipeline${didYouMean(job, engine.pipeline.jobs.keys())}`,
        );
      const decisions = await engine.store.listDecisions({
        job,
        limit: WHY_LIMIT,
        ...(version === undefined ? {} : { version }),
      });
      return { job, decisions };
    },
  );

  app.get(
    '/api/trace/:source/:version',
    {
      schema: {
        tags: ['trace'],
        summary: 'Everything a version caused: builds, their outputs, the builds those fed',
        params: z.object({
          source: z.string().min(1),
          version: z.string().min(1).meta({ description: 'A version or an unambiguous prefix.' }),
        }),
        response: {
          200: z.object({
            source: z.string(),
            version: z.string().meta({ description: 'The full version the prefix resolved to.' }),
            nodes: z.array(TraceNodeSchema).readonly(),
          }),
          ...notFoundErrors,
          409: ErrorBody,
        },
      },
    },
    async (request) => {
      const { source, version } = request.params;
      try {
        return await traceVersion(engine.store, source, version, ctx.now());
      } catch (err) {
        if (err instanceof VersionNotFoundError) throw ApiError.notFound(err.message);
        if (err instanceof AmbiguousVersionError) {
          throw new ApiError(409, 'NL_AMBIGUOUS', err.message, { candidates: err.candidates });
        }
        throw err;
      }
    },
  );
}
