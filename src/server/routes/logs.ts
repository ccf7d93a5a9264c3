import { z } from 'zod';
import { isFinished } from '../../core/build.js';
import { ApiError } from '../errors.js';
import { ALSO_EVENT_STREAM } from '../openapi-doc.js';
import type { ApiApp, RouteContext } from '../options.js';
import { BuildIdParams, queryFlag } from '../schemas/common.js';
import { notFoundErrors } from '../schemas/error.js';
import { LogResponse } from '../schemas/responses.js';
import { wantsEventStream } from '../sse.js';
import { followLog } from './log-follow.js';

const DEFAULT_LOG_LIMIT = 1024 * 1024;
const MAX_LOG_LIMIT = 8 * 1024 * 1024;

const LogQuery = z.strictObject({
  offset: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .meta({ description: 'Byte offset: `nextOffset` of the previous read.' }),
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(MAX_LOG_LIMIT)
    .default(DEFAULT_LOG_LIMIT)
    .meta({ description: 'About this many bytes of whole lines.' }),
  follow: queryFlag()
    .optional()
    .meta({ description: 'Stream as server-sent events (same as `Accept: text/event-stream`).' }),
});

/** `GET /api/builds/:id/log`: a page of the log as JSON, or the live log as server-sent events. */
export function logRoutes(app: ApiApp, ctx: RouteContext): void {
  const { read, live, dataDir, readLog } = ctx.opts;

  app.get(
    '/api/builds/:id/log',
    {
      // A HEAD request would hold an event stream open with nothing to send.
      exposeHeadRoute: false,
      schema: {
        tags: ['builds'],
        summary: 'The build log: a page as JSON, or followed live as server-sent events',
        description:
          'SSE (`Accept: text/event-stream` or `?follow=1`): `event: line` with a LogLine per line ' +
          '(the last line of each chunk carries `id: <byte offset>`, usable as `Last-Event-ID`), then ' +
          '`event: end` with `{"state"}` once the build finished and everything was sent.',
        params: BuildIdParams,
        querystring: LogQuery,
        response: {
          200: LogResponse.meta({
            description: 'A page of the log, or (SSE) the followed log.',
            ...ALSO_EVENT_STREAM,
          }),
          ...notFoundErrors,
        },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      // The state is read before the log: a build seen finished has its whole log on disk already.
      const build = await read.getBuild(id);
      if (!build) throw ApiError.notFound(`no build #${id}`);
      const { offset, limit, follow } = request.query;
      if (follow === true || (follow === undefined && wantsEventStream(request))) {
        const resumeAt = Number(request.headers['last-event-id']);
        const from = Number.isSafeInteger(resumeAt) && resumeAt >= 0 ? resumeAt : offset;
        const stream = ctx.sse.start(request, reply);
        await followLog({
          read,
          live,
          dataDir,
          readLog,
          buildId: id,
          from,
          stream,
          log: request.log,
        });
        return reply;
      }
      const chunk = await readLog(dataDir, id, offset, limit);
      // The database's copy of a log another replica wrote may lag its recorded size a moment.
      const done =
        isFinished(build.state) &&
        chunk.nextOffset >= chunk.size &&
        chunk.nextOffset >= build.logBytes;
      return { lines: chunk.lines, nextOffset: chunk.nextOffset, size: chunk.size, done };
    },
  );
}
