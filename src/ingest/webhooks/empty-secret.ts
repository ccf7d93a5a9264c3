import type { FastifyRequest } from 'fastify';
import type { SourceName } from '../../core/pipeline.js';

/**
 * A source whose `webhook_secret` is empty takes no webhooks: verifying against an empty key
 * would accept anything anyone signs. `check` refuses such a file, so this only fires for a
 * pipeline built in code; it is an error in the log, never a silent pass.
 */
export function logEmptySecret(req: FastifyRequest, source: SourceName): void {
  req.log.error(
    { source },
    `source "${source}" has an empty webhook_secret: deliveries are never verified against an empty key (refused with 401)`,
  );
}
