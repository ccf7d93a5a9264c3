import { z } from 'zod';
import type { BuildFilter } from '../../store/ports.js';
import { ApiError } from '../errors.js';
import type { ApiApp, RouteContext } from '../options.js';
import { BuildStateSchema } from '../schemas/build.js';
import { bearerSecurity, BuildIdParams, ByField, positiveInt } from '../schemas/common.js';
import { commonErrors, notFoundErrors } from '../schemas/error.js';
import { BuildResponse, BuildsResponse, CancelResponse } from '../schemas/responses.js';
import { triggerResponses } from '../schemas/trigger.js';

const MAX_PAGE = 500;

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
  const { read, commands } = ctx.opts;
  const { links } = ctx;

  app.get(
    '/api/builds',
    {
      schema: {
        tags: ['builds'],
        summary: 'Builds, newest first, filtered and paged',
        querystring: ListQuery,
        response: {
          200: BuildsResponse,
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
      const found = await read.listBuilds(filter);
      const builds = found.slice(0, q.limit);
      const last = builds[builds.length - 1];
      return {
        builds: builds.map(links.build),
        next: found.length > q.limit && last ? last.id : null,
      };
    },
  );

  app.get(
    '/api/builds/:id',
    {
      schema: {
        tags: ['builds'],
        summary: 'One build with its outputs, warnings and log size',
        params: BuildIdParams,
        response: { 200: BuildResponse, ...notFoundErrors },
      },
    },
    async (request) => {
      const build = await read.getBuild(request.params.id);
      if (!build) throw ApiError.notFound(`no build #${request.params.id}`);
      return { build: links.build(build) };
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
        response: { 200: CancelResponse, ...notFoundErrors },
      },
    },
    async (request) => {
      const build = await commands.cancel(request.params.id, 'api');
      if (!build) throw ApiError.notFound(`no build #${request.params.id}`);
      return { build: links.build(build) };
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
      const old = await read.getBuild(id);
      if (!old) throw ApiError.notFound(`no build #${id}`);
      const job = ctx.opts.pipeline().jobs.get(old.job);
      if (!job) throw new ApiError('NL_CONFLICT', `job "${old.job}" is no longer in the pipeline`);
      const had = old.inputs.map((i) => i.source);
      const same = had.length === job.inputs.length && job.inputs.every((s) => had.includes(s));
      if (!same)
        throw new ApiError(
          'NL_CONFLICT',
          `build #${id} used inputs ${had.join(', ') || '(none)'}; job "${job.name}" now has ${job.inputs.join(', ') || '(none)'}: trigger it with --input instead`,
        );
      const result = await commands.trigger(job.name, {
        force: true,
        by: request.body?.by ?? request.principal?.name ?? 'api',
        pins: old.inputs.map((i) => ({ source: i.source, version: i.version, ref: i.ref })),
        rebuildOf: id,
      });
      const build = links.maybe(result.build);
      if (build) void reply.header('location', build.apiUrl);
      return reply.code(202).send({ build, decisions: result.decisions });
    },
  );
}
