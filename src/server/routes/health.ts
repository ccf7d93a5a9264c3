import { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import type { ApiApp, RouteContext } from '../options.js';
import { ErrorBody } from '../schemas/error.js';

/** How long `/readyz` waits for the store's answer. */
const STORE_PROBE_MS = 2_000;

async function storeAnswers(ctx: RouteContext, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      ctx.opts.meta.get('installation-id').then(
        () => true,
        () => false,
      ),
      late,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

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
        summary: 'Readiness: the engine runs, the store answers, and the server is not stopping',
        response: { 200: z.object({ ready: z.literal(true) }), 503: ErrorBody },
      },
    },
    async () => {
      if (!ctx.ready())
        throw new ApiError('NL_UNAVAILABLE', 'the server is not ready (starting or stopping)');
      // One small read, bounded: a load balancer stops sending webhooks to a replica whose
      // database is gone (they would be refused with 503 anyway) and sends them again once it is back.
      if (!(await storeAnswers(ctx, STORE_PROBE_MS)))
        throw new ApiError('NL_UNAVAILABLE', 'the database is unavailable');
      return { ready: true as const };
    },
  );
}
