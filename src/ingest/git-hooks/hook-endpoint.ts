import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { ApiError } from '../../api/errors.js';
import type { WebhookDeps } from '../webhooks/deps.js';
import { ingestPlanned } from '../webhooks/deps.js';
import { followsRef, refName, sourcesForRepo } from '../webhooks/match-sources.js';
import { planEvents } from '../webhooks/plan-events.js';
import { decodeBody, rawBodyOf } from '../webhooks/raw-body.js';
import { describeIssues, isZeroSha, type RefUpdate } from '../webhooks/webhook-parse.js';
import {
  CHANGED_PATHS_TIMEOUT_MS,
  changedPathsOrUnknown,
  type ChangedPathsLookup,
} from '../changed-paths.js';
import type { GitSource } from '../../core/pipeline.js';

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
    const res = hookBody.safeParse(decodeBody(rawBodyOf(req.body), req.headers['content-type']));
    if (!res.success)
      throw new ApiError(
        'NL_BAD_REQUEST',
        `invalid hook body: ${describeIssues(res.error.issues)}`,
      );
    const { repo, updates } = res.data;
    const sources = sourcesForRepo(deps.target.pipeline, [repo]);
    const receivedAt = now();
    const refUpdates: RefUpdate[] = [];
    const deadline = Date.now() + CHANGED_PATHS_TIMEOUT_MS;
    for (const u of updates) {
      const version = isZeroSha(u.new) ? null : u.new;
      // `old..new` from the mirror (a new branch: against the parent), so `paths:` filters work
      // for local pushes too. One budget for the whole push: past it, paths are unknown.
      const changedPaths =
        version === null || !deps.paths || Date.now() >= deadline
          ? null
          : await hookUpdatePaths(
              deps.paths,
              sources,
              u.ref,
              isZeroSha(u.old) ? null : u.old,
              version,
              deadline,
            );
      refUpdates.push({ ref: u.ref, version, changedPaths, forced: false });
    }
    const plan = planEvents(refUpdates, {
      sources,
      repo,
      origin: 'hook',
      deliveryId: null,
      receivedAt,
    });
    if (plan.events.length === 0) {
      deps.onEvent?.(null, 'git', 'ignored');
      return reply.code(202).send({ ignored: plan.ignored.join('; ') || 'no ref updates' });
    }
    return reply.code(202).send(await ingestPlanned(deps, 'git', plan.events, plan.ignored));
  };
}

/** The paths one pushed ref update changed, asked of the mirror of a source following the ref. */
async function hookUpdatePaths(
  lookup: ChangedPathsLookup,
  sources: readonly GitSource[],
  fullRef: string,
  from: string | null,
  to: string,
  deadline: number,
): Promise<readonly string[] | null> {
  const ref = refName(fullRef);
  const source = ref && sources.find((s) => followsRef(s, ref.name, ref.tag));
  if (!source) return null;
  return changedPathsOrUnknown(lookup, source, from, to, Math.max(1, deadline - Date.now()));
}
