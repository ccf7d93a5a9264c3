import { z } from 'zod';
import { AmbiguousVersionError, traceVersion, VersionNotFoundError } from '../../read/trace.js';
import { ApiError } from '../errors.js';
import { waitingFor } from '../../core/runs-on.js';
import type { ApiApp, RouteContext } from '../options.js';
import { positiveInt } from '../schemas/common.js';
import { ErrorBody, notFoundErrors } from '../schemas/error.js';
import { EventResponse, TraceResponse, WhyResponse } from '../schemas/responses.js';
import { didYouMean } from '../../config/names.js';
import { outputSourceName } from '../../core/output-source.js';

const WHY_LIMIT = 100;

/** `GET /api/why` (why did/didn't a job build) and `GET /api/trace/:source/:version` (where did a change go). */
export function whyTraceRoutes(app: ApiApp, ctx: RouteContext): void {
  const { read } = ctx.opts;

  app.get(
    '/api/why',
    {
      schema: {
        tags: ['trace'],
        summary: 'The scheduler decisions about a job or a source, newest first',
        description:
          'Give `job` or `source`. For a job: its own decisions and the source-level ones (new version, duplicate, ancestor) about its inputs. For a source: every decision about it.',
        querystring: z.strictObject({
          job: z.string().min(1).optional(),
          source: z.string().min(1).optional(),
          version: z
            .string()
            .min(1)
            .optional()
            .meta({ description: 'Only decisions about this version (or prefix).' }),
        }),
        response: {
          200: WhyResponse,
          ...notFoundErrors,
        },
      },
    },
    async (request) => {
      const { job, source, version } = request.query;
      const only = version === undefined ? {} : { version };
      if ((job === undefined) === (source === undefined))
        throw new ApiError('NL_BAD_REQUEST', 'give exactly one of "job" and "source"');
      if (source !== undefined) {
        if (!ctx.opts.pipeline().sources.has(source))
          throw ApiError.notFound(
            `no source "${source}" in the pipeline${didYouMean(source, ctx.opts.pipeline().sources.keys())}`,
          );
        const decisions = await read.listDecisions({ source, limit: WHY_LIMIT, ...only });
        return { source, decisions };
      }
      const def = job === undefined ? undefined : ctx.opts.pipeline().jobs.get(job);
      if (job === undefined || !def)
        throw ApiError.notFound(
          `no job "${job}" in the pipeline${didYouMean(job ?? '', ctx.opts.pipeline().jobs.keys())}`,
        );
      const all = await read.listDecisions({
        job,
        withSourcesOf: def.inputs,
        limit: WHY_LIMIT,
        ...only,
      });
      // An early cutoff is recorded for the source and noted for each consumer: show it once.
      const mine = new Set(all.filter((d) => d.job === job).map((d) => `${d.eventId}:${d.rule}`));
      const decisions = all.filter((d) => d.job !== null || !mine.has(`${d.eventId}:${d.rule}`));
      const waiting = waitingFor(def);
      const queued =
        waiting === null ? [] : await read.listBuilds({ job, state: 'queued', limit: 1 });
      return { job, decisions, ...(queued.length > 0 && waiting ? { waiting } : {}) };
    },
  );

  app.get(
    '/api/events/:id',
    {
      schema: {
        tags: ['trace'],
        summary: 'One inbox event and the decisions the scheduler made about it',
        params: z.object({ id: positiveInt().meta({ description: 'Event id (inbox row).' }) }),
        response: {
          200: EventResponse,
          ...notFoundErrors,
        },
      },
    },
    async (request) => {
      const { id } = request.params;
      const event = await read.getEvent(id);
      if (!event) throw ApiError.notFound(`no event ${id}`);
      const decisions = await read.listDecisions({ eventId: id, limit: 1000 });
      return { event, decisions };
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
          200: TraceResponse,
          ...notFoundErrors,
          409: ErrorBody,
        },
      },
    },
    async (request) => {
      const { source, version } = request.params;
      try {
        const trace = await traceVersion(read, source, version, ctx.now(), {
          pipeline: ctx.opts.pipeline(),
          slots: ctx.opts.slots,
        });
        return { ...trace, nodes: ctx.links.trace(trace.nodes) };
      } catch (err) {
        if (err instanceof VersionNotFoundError) {
          // A mistyped source (not a removed one with history): say so, with the closest name.
          const names = [
            ...ctx.opts.pipeline().sources.keys(),
            ...[...ctx.opts.pipeline().jobs.values()].flatMap((j) =>
              Object.keys(j.outputs).map((o) => outputSourceName(j.name, o)),
            ),
          ];
          if (!names.includes(source))
            throw ApiError.notFound(
              `${err.message}: no source "${source}" in the pipeline${didYouMean(source, names)}`,
            );
          throw ApiError.notFound(err.message);
        }
        if (err instanceof AmbiguousVersionError) {
          throw new ApiError('NL_AMBIGUOUS', err.message, { candidates: err.candidates });
        }
        throw err;
      }
    },
  );
}
