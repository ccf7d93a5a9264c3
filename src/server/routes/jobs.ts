import { z } from 'zod';
import type { ApiApp, RouteContext } from '../options.js';
import { ApiError } from '../errors.js';
import { JobsResponse } from '../schemas/responses.js';
import { triggerResponses } from '../schemas/trigger.js';
import { bearerSecurity, ByField } from '../schemas/common.js';
import { MAX_PINS, resolvePins } from '../pin-inputs.js';
import { commonErrors } from '../schemas/error.js';
import { didYouMean } from '../../config/names.js';
import { runsOn, waitingFor } from '../../core/runs-on.js';

/** `GET /api/jobs` and `POST /api/jobs/:job/trigger`. */
export function jobRoutes(app: ApiApp, ctx: RouteContext): void {
  const { read, commands } = ctx.opts;
  const { links } = ctx;

  app.get(
    '/api/jobs',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Jobs in topological order, each with its newest builds',
        response: { 200: JobsResponse, ...commonErrors },
      },
    },
    async () => {
      const pipeline = ctx.opts.pipeline();
      const statuses = new Map((await read.jobStatuses(pipeline.order)).map((s) => [s.name, s]));
      const jobs = pipeline.order.flatMap((name) => {
        const def = pipeline.jobs.get(name);
        if (!def) return [];
        const status = statuses.get(name);
        return [
          {
            name,
            inputs: def.inputs,
            steps: def.steps.length,
            outputs: Object.keys(def.outputs),
            latest: links.maybe(status?.latest ?? null),
            lastFinished: links.maybe(status?.lastFinished ?? null),
            runsOn: runsOn(def),
            waiting: status?.latest?.state === 'queued' ? waitingFor(def) : null,
          },
        ];
      });
      return { jobs };
    },
  );

  app.post(
    '/api/jobs/:job/trigger',
    {
      schema: {
        tags: ['jobs'],
        summary: 'Run a job with its current input versions, or with some pinned',
        description:
          'Without `force`, inputs that were already built build nothing: `build` is null and the ' +
          'decisions say why (`same-fingerprint`). With `force: true` the job builds again. ' +
          '`inputs` pins inputs to versions nightless has seen (a unique prefix is enough); the ' +
          "others take their newest version. The build's cause records `by` and the pins.",
        security: bearerSecurity,
        params: z.object({ job: z.string().min(1) }),
        // The body is optional: `POST` with no body (fastify: `null`) triggers without force.
        body: z
          .strictObject({
            force: z.boolean().optional(),
            inputs: z
              .record(z.string().min(1).max(200), z.string().min(1).max(200))
              .refine((r) => Object.keys(r).length <= MAX_PINS, {
                message: `at most ${MAX_PINS} inputs`,
              })
              .optional()
              .meta({ description: 'Input name → version (or a unique prefix of one) to pin.' }),
            by: ByField,
          })
          .nullish(),
        response: triggerResponses,
      },
    },
    async (request, reply) => {
      const { job } = request.params;
      const def = ctx.opts.pipeline().jobs.get(job);
      if (!def)
        throw ApiError.notFound(
          `no job "${job}" in the pipeline${didYouMean(job, ctx.opts.pipeline().jobs.keys())}`,
        );
      const pins = await resolvePins(read, def, request.body?.inputs ?? {});
      const result = await commands.trigger(job, {
        force: request.body?.force ?? false,
        by: request.body?.by ?? request.principal?.name ?? 'api',
        pins,
      });
      const build = links.maybe(result.build);
      if (build) void reply.header('location', build.apiUrl);
      return reply.code(202).send({ build, decisions: result.decisions });
    },
  );
}
