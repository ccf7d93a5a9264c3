import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../api/errors.js';
import { authenticFor, verifyDelivery, type Refusal } from './authenticate.js';
import type { WebhookDeps } from './deps.js';
import { ingestPlanned } from './deps.js';
import type { ForgeDriver } from './forge-driver.js';
import { sourcesForRepo } from './match-sources.js';
import { planEvents, type PlanContext } from './plan-events.js';
import { recordRequests } from './record-requests.js';
import { logEmptySecret } from './empty-secret.js';
import { decodeBody, rawBodyOf } from './raw-body.js';
import { PayloadError } from './webhook-parse.js';

/**
 * One forge endpoint: verify the signature against the sources' secrets → decode → parse →
 * keep the sources following the repository that the signature verified → write the events to
 * the inbox → 202. Nothing in the body is read before the signature is verified, and nothing is
 * stored before the repository's own sources are; scheduling runs after the reply.
 */
export function forgeHandler(driver: ForgeDriver, deps: WebhookDeps) {
  const now = deps.now ?? Date.now;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const raw = rawBodyOf(req.body);
    const verified = verifyDelivery(
      (secret) => driver.verify(req.headers, raw, secret),
      deps.target.pipeline.sources.values(),
      {
        signature: `${driver.name} signature`,
        signatureHeader: SIGNATURE_HEADERS[driver.name],
        onEmptySecret: (source) => logEmptySecret(req, source),
      },
    );
    if (!verified.ok) throw refuse(deps, driver, verified);

    const event = driver.eventType(req.headers);
    if (event === null)
      throw new ApiError('NL_BAD_REQUEST', `not a ${driver.name} webhook: no event type header`);
    const body = decodeBody(raw, req.headers['content-type']);
    let parsed;
    try {
      parsed = driver.parse(event, body);
    } catch (err) {
      if (err instanceof PayloadError) throw new ApiError('NL_BAD_REQUEST', err.message);
      throw err;
    }
    if (parsed.kind === 'ignored') {
      deps.onEvent?.(null, driver.name, 'ignored');
      return reply.code(202).send({ ignored: parsed.reason });
    }

    const repo = parsed.repoUrls[0] ?? '(a repository the payload does not name)';
    const candidates = sourcesForRepo(deps.target.pipeline, parsed.repoUrls);
    if (parsed.kind === 'ping') {
      if (candidates.length === 0)
        return reply.code(200).send({ ping: 'ok', warning: `no source follows ${repo}` });
      const auth = authenticFor(verified.sources, candidates, repo, driver.name);
      if (!auth.ok) throw refuse(deps, driver, auth);
      return reply.code(200).send({ ping: 'ok', sources: auth.sources.map((s) => s.name) });
    }

    const delivery = driver.deliveryId(req.headers);
    const deliveryId = delivery === null ? null : `${driver.name}:${delivery}`;
    const receivedAt = now();
    // A literal, not `{ ...ctx, sources }`: see `newBuildValues` (src/store/sql/decision-writer.ts).
    const context = (sources: PlanContext['sources']): PlanContext => ({
      repo,
      origin: 'webhook',
      deliveryId,
      receivedAt,
      sources,
    });
    if (candidates.length === 0)
      return ignore(reply, deps, driver, planEvents(parsed.updates, context([])).ignored);
    const auth = authenticFor(verified.sources, candidates, repo, driver.name);
    if (!auth.ok) throw refuse(deps, driver, auth);
    const plan = planEvents(parsed.updates, context(auth.sources));
    if (plan.events.length === 0) return ignore(reply, deps, driver, plan.ignored);
    for (const u of parsed.updates) {
      if (u.forced)
        req.log.info({ forge: driver.name, ref: u.ref, version: u.version }, 'force push');
    }
    await recordRequests(deps.requests, driver.name, parsed.updates, plan.events, receivedAt);
    return reply.code(202).send(await ingestPlanned(deps, driver.name, plan.events, plan.ignored));
  };
}

const SIGNATURE_HEADERS: Readonly<Record<ForgeDriver['name'], string>> = {
  github: 'X-Hub-Signature-256',
  gitlab: 'X-Gitlab-Token',
  gitea: 'X-Gitea-Signature or X-Forgejo-Signature',
};

function refuse(deps: WebhookDeps, driver: ForgeDriver, refusal: Refusal): ApiError {
  deps.onSignatureFailure?.(driver.name, refusal.reason);
  return new ApiError('NL_UNAUTHORIZED', refusal.message);
}

function ignore(
  reply: FastifyReply,
  deps: WebhookDeps,
  driver: ForgeDriver,
  reasons: readonly string[],
): FastifyReply {
  deps.onEvent?.(null, driver.name, 'ignored');
  return reply.code(202).send({ ignored: reasons.join('; ') });
}
