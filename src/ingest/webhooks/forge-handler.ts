import type { FastifyReply, FastifyRequest } from 'fastify';
import { authenticate } from './authenticate.js';
import type { WebhookDeps } from './deps.js';
import { ingestPlanned } from './deps.js';
import type { ForgeDriver } from './forge-driver.js';
import { sourcesForRepo } from './match-sources.js';
import { planEvents } from './plan-events.js';
import { decodeBody, sendError } from './raw-body.js';
import { PayloadError } from './webhook-parse.js';

/**
 * One forge endpoint: decode → parse → find the sources following the repository → verify the
 * signature against their secrets → write the events to the inbox → 202. Nothing is stored
 * before the signature is verified; scheduling runs after the reply, off the request path.
 */
export function forgeHandler(driver: ForgeDriver, deps: WebhookDeps) {
  const now = deps.now ?? Date.now;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    const event = driver.eventType(req.headers);
    if (event === null)
      return sendError(
        reply,
        400,
        'NL_BAD_REQUEST',
        `not a ${driver.name} webhook: no event type header`,
      );
    const decoded = decodeBody(req.body, req.headers['content-type']);
    if (!decoded.ok) return sendError(reply, 400, 'NL_BAD_REQUEST', decoded.message);
    let parsed;
    try {
      parsed = driver.parse(event, decoded.value);
    } catch (err) {
      if (err instanceof PayloadError) return sendError(reply, 400, 'NL_BAD_REQUEST', err.message);
      throw err;
    }
    if (parsed.kind === 'ignored') {
      deps.onEvent?.(null, driver.name, 'ignored');
      return reply.code(202).send({ ignored: parsed.reason });
    }

    const repo = parsed.repoUrls[0] ?? '(a repository the payload does not name)';
    const candidates = sourcesForRepo(deps.engine.pipeline, parsed.repoUrls);
    const raw = req.body as Buffer;
    if (parsed.kind === 'ping') {
      if (candidates.length === 0)
        return reply.code(200).send({ ping: 'ok', warning: `no source follows ${repo}` });
      const auth = authenticate(driver, req.headers, raw, candidates, repo);
      if (!auth.ok) {
        deps.onSignatureFailure?.(driver.name, auth.reason);
        return sendError(reply, 401, 'NL_UNAUTHORIZED', auth.message);
      }
      return reply.code(200).send({ ping: 'ok', sources: auth.sources.map((s) => s.name) });
    }

    const delivery = driver.deliveryId(req.headers);
    const ctx = {
      repo,
      origin: 'webhook' as const,
      deliveryId: delivery === null ? null : `${driver.name}:${delivery}`,
      receivedAt: now(),
    };
    if (candidates.length === 0)
      return ignore(
        reply,
        deps,
        driver,
        planEvents(parsed.updates, { ...ctx, sources: [] }).ignored,
      );
    const auth = authenticate(driver, req.headers, raw, candidates, repo);
    if (!auth.ok) {
      deps.onSignatureFailure?.(driver.name, auth.reason);
      return sendError(reply, 401, 'NL_UNAUTHORIZED', auth.message);
    }
    const plan = planEvents(parsed.updates, { ...ctx, sources: auth.sources });
    if (plan.events.length === 0) return ignore(reply, deps, driver, plan.ignored);
    for (const u of parsed.updates) {
      if (u.forced)
        req.log.info({ forge: driver.name, ref: u.ref, version: u.version }, 'force push');
    }
    return reply.code(202).send(await ingestPlanned(deps, driver.name, plan.events, plan.ignored));
  };
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
