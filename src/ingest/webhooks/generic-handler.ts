import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from '../../api/errors.js';
import { parseGenericNotice } from '../generic/payload.js';
import {
  genericDeliveryId,
  planGeneric,
  verifyGeneric,
  webhookSecretOf,
} from '../generic/webhook.js';
import type { WebhookDeps } from './deps.js';
import { ingestPlanned } from './deps.js';
import { verifyDelivery } from './authenticate.js';
import { logEmptySecret } from './empty-secret.js';
import { decodeBody, rawBodyOf } from './raw-body.js';
import type { SignatureFailure } from './signature.js';
import { PayloadError } from './webhook-parse.js';
import type { SourceDef } from '../../core/pipeline.js';
import type { NewEvent } from '../../store/ports.js';
import { changedPathsOrUnknown } from '../changed-paths.js';

/**
 * `POST /hooks/generic`: any system that can sign a body announces a version of a named source
 * (or, for http sources, asks nightless to check the resource now).
 */
export function genericHandler(deps: WebhookDeps) {
  const now = deps.now ?? Date.now;
  return async (req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    // Verified before the body is read: an unsigned body is a 401 whatever it holds.
    const raw = rawBodyOf(req.body);
    const verified = verifyDelivery(
      (secret) => verifyGeneric(req.headers, raw, secret),
      deps.target.pipeline.sources.values(),
      {
        signature: 'signature',
        signatureHeader: 'X-Nightless-Signature-256: sha256=<hex HMAC-SHA256 of the body>',
        onEmptySecret: (source) => logEmptySecret(req, source),
      },
    );
    if (!verified.ok) throw refuse(deps, verified.reason, verified.message);

    const body = decodeBody(raw, req.headers['content-type']);
    let notice;
    try {
      notice = parseGenericNotice(body);
    } catch (err) {
      if (err instanceof PayloadError) throw new ApiError('NL_BAD_REQUEST', err.message);
      throw err;
    }
    const def = deps.target.pipeline.sources.get(notice.source);
    if (!def) throw ApiError.notFound(`no source "${notice.source}"`);
    // The body names the source: it must be one the signature verified, not just any.
    if (!verified.sources.has(def.name)) {
      const secret = webhookSecretOf(def);
      throw secret === null || secret === ''
        ? refuse(
            deps,
            'no-secret',
            `webhooks are rejected for "${def.name}": set webhook_secret on the source to accept them`,
          )
        : refuse(
            deps,
            'mismatch',
            `the signature does not match the webhook_secret of "${def.name}"`,
          );
    }

    const delivery = genericDeliveryId(req.headers);
    const plan = planGeneric(notice, def, { deliveryId: delivery, receivedAt: now() });
    switch (plan.kind) {
      case 'invalid':
        throw new ApiError('NL_BAD_REQUEST', plan.message);
      case 'ignored':
        deps.onEvent?.(def.name, 'generic', 'ignored');
        return reply.code(202).send({ ignored: plan.reason });
      case 'poll': {
        const poller = deps.poller;
        if (!poller)
          throw new ApiError(
            'NL_CONFLICT',
            `source "${def.name}" cannot be checked now: no poller runs`,
          );
        // The check takes network time; the sender only needs to know it was asked for.
        poller
          .pollNow(def.name)
          .catch((err: unknown) =>
            req.log.warn({ err, source: def.name }, 'check after generic webhook failed'),
          );
        deps.onEvent?.(def.name, 'generic', 'polled');
        return reply.code(202).send({ polling: def.name });
      }
      case 'event': {
        const event = await withMirrorPaths(deps, def, plan.event);
        return reply.code(202).send(await ingestPlanned(deps, 'generic', [event], []));
      }
    }
  };
}

function refuse(deps: WebhookDeps, reason: SignatureFailure, message: string): ApiError {
  deps.onSignatureFailure?.('generic', reason);
  return new ApiError('NL_UNAUTHORIZED', message);
}

/**
 * A git notice without `changed_paths`: the paths from the mirror, between the head nightless
 * knows on that branch and the new version (a new branch: against the parent).
 */
async function withMirrorPaths(
  deps: WebhookDeps,
  def: SourceDef,
  event: NewEvent,
): Promise<NewEvent> {
  if (!deps.paths || def.kind !== 'git' || event.kind !== 'source') return event;
  if (event.changedPaths !== null || event.ref === null) return event;
  const known = await deps.paths.knownHead(def.name, event.ref).catch(() => null);
  if (known === event.version) return event; // a duplicate: nothing to compare
  const changedPaths = await changedPathsOrUnknown(deps.paths, def, known, event.version);
  return { ...event, changedPaths };
}
