import { z } from 'zod';
import type { DeliveryPort, DeliveryRecord, ReadPort } from '../../store/ports.js';
import { ApiError } from '../../api/errors.js';
import type { ApiApp, RouteModule } from '../options.js';
import { DeliverySchema as delivery, ReportTargetSchema as target } from '../schemas/delivery.js';

/** The report targets running now (`ReportDispatcher` in the embedded deployment). */
export interface ReportTargets {
  targets(): ReadonlyArray<{
    readonly target: string;
    readonly kind: string;
    readonly description: string;
    /** The outbox id the target got to. */
    readonly position: number;
  }>;
  /** A delivery became due (a manual retry): the targets look again now. */
  wake(): void;
}

export interface DeliveryRoutesDeps {
  readonly deliveries: Pick<
    DeliveryPort,
    'listDeliveries' | 'listCursors' | 'getDelivery' | 'retryDelivery'
  >;
  readonly reads: Pick<ReadPort, 'lastOutboxId'>;
  readonly dispatcher: ReportTargets;
  readonly now?: () => number;
}

/**
 * `GET /api/deliveries` (read) and `POST /api/deliveries/:id/retry` (write, bearer token):
 * report deliveries, dead letters, and sending a dead one again (`nightless deliveries`).
 */
export function deliveryRoutes(deps: DeliveryRoutesDeps): RouteModule {
  const now = deps.now ?? Date.now;
  return function routes(app: ApiApp): Promise<void> {
    app.get(
      '/api/deliveries',
      {
        schema: {
          summary: 'Report deliveries and the position of each report target',
          tags: ['reports'],
          querystring: z.object({
            state: z.enum(['pending', 'delivered', 'dead']).optional(),
            target: z.string().optional(),
            build: z.coerce.number().int().positive().optional(),
            limit: z.coerce.number().int().min(1).max(500).default(50),
          }),
          response: {
            200: z.object({ deliveries: z.array(delivery), targets: z.array(target) }),
          },
        },
      },
      async (req) => {
        const q = req.query;
        const list = await deps.deliveries.listDeliveries({
          limit: q.limit,
          ...(q.state !== undefined ? { state: q.state } : {}),
          ...(q.target !== undefined ? { target: q.target } : {}),
          ...(q.build !== undefined ? { buildId: q.build } : {}),
        });
        const end = await deps.reads.lastOutboxId();
        const live = new Map(deps.dispatcher.targets().map((t) => [t.target, t]));
        const cursors = await deps.deliveries.listCursors();
        return {
          deliveries: list.map(toJson),
          targets: cursors.map((c) => {
            const l = live.get(c.target);
            const position = l?.position ?? c.lastOutboxId;
            return {
              target: c.target,
              kind: c.kind,
              description: l?.description ?? null,
              active: l !== undefined,
              position,
              behind: Math.max(0, end - position),
              lastError: c.lastError,
            };
          }),
        };
      },
    );

    app.post(
      '/api/deliveries/:id/retry',
      {
        schema: {
          summary: 'Send a dead delivery again (a fresh series of attempts)',
          tags: ['reports'],
          params: z.object({ id: z.coerce.number().int().positive() }),
          response: { 200: z.object({ delivery }) },
        },
      },
      async (req) => {
        const found = await deps.deliveries.getDelivery(req.params.id);
        if (!found) throw ApiError.notFound(`no delivery ${req.params.id}`);
        if (found.state !== 'dead')
          throw new ApiError(
            'NL_CONFLICT',
            `delivery ${found.id} is ${found.state}; only dead deliveries can be retried`,
          );
        const d = await deps.deliveries.retryDelivery(found.id, now());
        deps.dispatcher.wake();
        return { delivery: toJson(d ?? found) };
      },
    );
    return Promise.resolve();
  };
}

function toJson(d: DeliveryRecord): z.infer<typeof delivery> {
  return { ...d };
}
