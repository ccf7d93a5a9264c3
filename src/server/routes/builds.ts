import { z } from 'zod';
import type { BuildFilter } from '../../store/ports.js';
import { ApiError } from '../errors.js';
import type { ApiApp, RouteContext } from '../options.js';
import { BuildDetailSchema, BuildSchema, BuildStateSchema } from '../schemas/build.js';
import { bearerSecurity, BuildIdParams, positiveInt } from '../schemas/common.js';
import { commonErrors, notFoundErrors } from '../schemas/error.js';

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

/** `GET /api/builds`, `GET /api/builds/:id`, `POST /api/builds/:id/cancel`. */
export function buildRoutes(app: ApiApp, ctx: RouteContext): void {
  const { engine } = ctx.opts;

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
      const found = await engine.store.listBuilds(filter);
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
      const build = await engine.store.getBuild(request.params.id);
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
}
