import { z } from 'zod';
import type { BuildFilter } from '../../store/ports.js';
import { ApiError } from '../errors.js';
import type { ApiApp, RouteContext } from '../options.js';
import { BuildDetailSchema, BuildSchema, BuildStateSchema } from '../schemas/build.js';
import { bearerSecurity, BuildIdParams, ByField, positiveInt } from '../schemas/common.js';
import { commonErrors, notFoundErrors } from '../schemas/error.js';
import { triggerResponses } from '../schemas/trigger.js';
import { buildApiUrl } from '../urls.js';

export const MAX_PAGE = 500;

const ListQuery = z.strictObject({
  job: z.string().min(1).optional(),
  state: BuildStateSchema.optional(),
  source: z.string().min(1).optional(),
  version: z.string().min(1).optional().meta({ description: 'A version or a prefix of one.' }),
  before: positiveInt()
    .optional()
    .meta({ description: 'Only builds with a lower id: `next` of the previous page.' }),
  limit: positiveInt().max(MAX_PAGE).default(50),
});

/** `GET /api/builds`, `GET /api/builds/:id`, `POST /api/builds/:id/cancel` and `/rebuild`. */
export function buildRoutes(app: ApiApp, ctx: RouteContext): void {
  const { engine, publicUrl } = ctx.opts;

  app.get(
    '/api/builds',
    {
      schema: {
        tags: ['builds'],
        summary: 'Builds, newest first, filtered and paged',
        querystring: ListQuery,
        response: {
          200: z.object({
            builds: z.array(BuildSchema),
            next: z
              .number()
              .int()
              .nullable()
              .meta({ description: 'Pass as `before` for the next page; null on the last.' }),
          }),
          ...commonErrors,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const filter: BuildFilter = {
        limit: q.limit + 1, // one more than asked tells whether another page exists
        ...(q.job === undefined ? {} : { job: q.job }),
        ...(q.state === undefined ? {} : { state: q.state }),
        ...(q.source === undefined ? {} : { source: q.source }),
        ...(q.version === undefined ? {} : { version: q.version }),
        ...(q.before === undefined ? {} : { before: q.before }),
      };
      const found = await engine.store.read.listBuilds(filter);
      const builds = found.slice(0, q.limit);
      const last = builds[builds.length - 1];
      return { builds, next: found.length > q.limit && last ? last.id : null };
    },
  );

  app.get(
    '/api/builds/:id',
    {
      schema: {
        tags: ['builds'],
        summary: 'One build with its outputs, warnings and log size',
        params: BuildIdParams,
        response: { 200: z.object({ build: BuildDetailSchema }), ...notFoundErrors },
      },
    },
    async (request) => {
      const build = await engine.store.read.getBuild(request.params.id);
      if (!build) throw ApiError.notFound(`no build #${request.params.id}`);
      return { build };
    },
  );

  app.post(
    '/api/builds/:id/cancel',
    {
      schema: {
        tags: ['builds'],
        summary: 'Cancel a queued or running build',
        description:
          'A finished build is returned unchanged. A running build is returned while its processes are being stopped.',
        security: bearerSecurity,
        params: BuildIdParams,
        response: { 200: z.object({ build: BuildSchema }), ...notFoundErrors },
      },
    },
    async (request) => {
      const build = await engine.cancel(request.params.id, 'api');
      if (!build) throw ApiError.notFound(`no build #${request.params.id}`);
      return { build };
    },
  );

  app.post(
    '/api/builds/:id/rebuild',
    {
      schema: {
        tags: ['builds'],
        summary: "Run a build's job again with the same input versions (forced)",
        description:
          "Queues a new build of the job with every input pinned to the build's version, even " +
          'when those inputs were built already. Its cause is `manual` with `rebuildOf` and `pins`.',
        security: bearerSecurity,
        params: BuildIdParams,
        body: z.strictObject({ by: ByField }).nullish(),
        response: triggerResponses,
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const old = await engine.store.read.getBuild(id);
      if (!old) throw ApiError.notFound(`no build #${id}`);
      const job = engine.pipeline.jobs.get(old.job);
      if (!job)
        throw new ApiError(409, 'NL_CONFLICT', `job "${old.job}" is no longer in the pipeline`);
      const had = old.inputs.map((i) => i.source);
      const same = had.length === job.inputs.length && job.inputs.every((s) => had.includes(s));
      if (!same)
        throw new ApiError(
          409,
          'NL_CONFLICT',
          `build #${id} used inputs ${had.join(', ') || '(none)'}; job "${job.name}" now has ${job.inputs.join(', ') || '(none)'}: trigger it with --input instead`,
        );
      const result = await engine.trigger(job.name, {
        force: true,
        by: request.body?.by ?? request.principal?.name ?? 'api',
        pins: old.inputs.map((i) => ({ source: i.source, version: i.version, ref: i.ref })),
        rebuildOf: id,
      });
      if (result.build) void reply.header('location', buildApiUrl(publicUrl, result.build.id));
      return reply.code(202).send({ build: result.build, decisions: result.decisions });
    },
  );
}
