import { z } from 'zod';
import type { ChangeRequest } from '../../core/change-request.js';
import type { Approval, ChangeRequestPort } from '../../store/ports/change-requests.js';
import type { ApiApp, RouteModule } from '../options.js';
import { ApiError } from '../errors.js';
import {
  ApprovalSchema as approval,
  ChangeRequestSchema as request,
} from '../schemas/change-request.js';

export interface ChangeRequestRoutesDeps {
  readonly requests: ChangeRequestPort;
  readonly now?: () => number;
}

/** A full or abbreviated (at least 7 hex digits) commit id. */
const SHA = /^[0-9a-f]{7,64}$/;

/**
 * `GET /api/requests` (read) and `POST /api/requests/:source/:number/approve` (scope `approve`):
 * the change requests nightless knows and approving one head commit of a fork's request
 * (`nightless approve pr/42@SHA`). An approval names a commit: a new push needs a new one.
 */
export function changeRequestRoutes(deps: ChangeRequestRoutesDeps): RouteModule {
  const now = deps.now ?? Date.now;
  return function routes(app: ApiApp): Promise<void> {
    app.get(
      '/api/requests',
      {
        schema: {
          summary: 'Change requests (pull/merge requests) and whether their heads are approved',
          tags: ['requests'],
          querystring: z.object({
            source: z.string().optional(),
            state: z.enum(['open', 'closed', 'merged']).optional(),
          }),
          response: { 200: z.object({ requests: z.array(request) }) },
        },
      },
      async (req) => {
        const list = await deps.requests.listRequests({
          ...(req.query.source !== undefined ? { source: req.query.source } : {}),
          ...(req.query.state !== undefined ? { state: req.query.state } : {}),
        });
        return { requests: await Promise.all(list.map((r) => withApproval(deps.requests, r))) };
      },
    );

    app.post(
      '/api/requests/:source/:number/approve',
      {
        schema: {
          summary: "Approve one head commit of a fork's change request: its builds get secrets",
          tags: ['requests'],
          params: z.object({
            source: z.string(),
            number: z.coerce.number().int().positive(),
          }),
          body: z.strictObject({ sha: z.string() }),
          response: { 200: z.object({ approval, request }) },
        },
      },
      async (req) => {
        const { source, number } = req.params;
        const found = await deps.requests.getRequest(source, number);
        if (!found) throw ApiError.notFound(`no change request pr/${number} of source "${source}"`);
        const sha = req.body.sha.toLowerCase();
        if (!SHA.test(sha))
          throw new ApiError('NL_BAD_REQUEST', `"${req.body.sha}" is not a commit id`);
        // Approving a commit that is not the head would approve code nobody looked at.
        if (!found.headSha.startsWith(sha))
          throw new ApiError(
            'NL_CONFLICT',
            `pr/${number} of ${source} is at ${found.headSha.slice(0, 12)}, not ${sha}: review the new head and approve it`,
          );
        const done: Approval = await deps.requests.approve({
          source,
          number,
          sha: found.headSha,
          by: req.principal?.name ?? 'api',
          at: now(),
        });
        return { approval: done, request: { ...found, approved: true } };
      },
    );
    return Promise.resolve();
  };
}

async function withApproval(
  port: ChangeRequestPort,
  r: ChangeRequest,
): Promise<z.infer<typeof request>> {
  const approved = !r.fork || (await port.approvalOf(r.source, r.number, r.headSha)) !== null;
  return { ...r, approved };
}
