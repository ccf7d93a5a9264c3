import { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import type { ApiApp, RouteContext } from '../options.js';
import { ErrorBody } from '../schemas/error.js';

/** Liveness and readiness for load balancers and orchestrators; never behind the token. */
export function healthRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness: the process answers HTTP',
        response: { 200: z.object({ ok: z.literal(true) }) },
      },
    },
    () => ({ ok: true as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['health'],
        summary: 'Readiness: the engine runs and the server is not stopping',
        response: { 200: z.object({ ready: z.literal(true) }), 503: ErrorBody },
      },
    },
    () => {
      if (!ctx.ready())
        throw new ApiError('NL_UNAVAILABLE', 'the server is not ready (starting or stopping)');
      return { ready: true as const };
    },
  );
}
