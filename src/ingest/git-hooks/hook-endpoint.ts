import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { WebhookDeps } from '../webhooks/deps.js';
import { ingestPlanned } from '../webhooks/deps.js';
import { sourcesForRepo } from '../webhooks/match-sources.js';
import { planEvents } from '../webhooks/plan-events.js';
import { decodeBody, rawBodyOf, sendDecodeError, sendError } from '../webhooks/raw-body.js';
import { describeIssues, isZeroSha } from '../webhooks/webhook-parse.js';

const SHA = z.string().regex(/^[0-9a-f]{4,64}$/i, 'must be a hex object id');

/** What the installed hook sends (see `hook-script.ts`). */
const hookBody = z.object({
  repo: z.string().min(1).max(4096),
  updates: z.array(z.object({ old: SHA, new: SHA, ref: z.string().min(1).max(4096) })).max(100_000),
});

/**
 * `POST /hooks/git`: ref updates from a hook installed by `nightless hook install`. It is
 * authenticated by a bearer token with the `hook` scope (docs/security.md), not a signature.
 * The repository is matched against git sources whose `git:` is that path (or `file://` URL).
 */
export function gitHookHandler(deps: WebhookDeps) {
  const now = deps.now ?? Date.now;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const decoded = decodeBody(rawBodyOf(req.body), req.headers['content-type']);
    if (!decoded.ok) return sendDecodeError(reply, decoded);
    const res = hookBody.safeParse(decoded.value);
    if (!res.success)
      return sendError(
        reply,
        400,
        'NL_BAD_REQUEST',
        `invalid hook body: ${describeIssues(res.error.issues)}`,
      );
    const { repo, updates } = res.data;
    const sources = sourcesForRepo(deps.engine.pipeline, [repo]);
    const plan = planEvents(
      updates.map((u) => ({
        ref: u.ref,
        version: isZeroSha(u.new) ? null : u.new,
        changedPaths: null,
        forced: false,
      })),
      { sources, repo, origin: 'hook', deliveryId: null, receivedAt: now() },
    );
    if (plan.events.length === 0) {
      deps.onEvent?.(null, 'git', 'ignored');
      return reply.code(202).send({ ignored: plan.ignored.join('; ') || 'no ref updates' });
    }
    return reply.code(202).send(await ingestPlanned(deps, 'git', plan.events, plan.ignored));
  };
}
