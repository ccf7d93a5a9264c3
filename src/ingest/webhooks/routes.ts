import type { FastifyInstance } from 'fastify';
import { gitHookHandler } from '../git-hooks/hook-endpoint.js';
import { giteaDriver } from '../gitea/webhook.js';
import { githubDriver } from '../github/webhook.js';
import { gitlabDriver } from '../gitlab/webhook.js';
import type { WebhookDeps } from './deps.js';
import { forgeHandler } from './forge-handler.js';
import { genericHandler } from './generic-handler.js';
import { groupCommit } from './group-commit.js';
import { BodiesInFlight, inFlightLimits, limitBodiesInFlight } from './bodies-in-flight.js';
import { DEFAULT_WEBHOOK_BODY_LIMIT, keepRawBodies } from './raw-body.js';

export type { IngestKind, IngestOutcome, IngestTarget, PollTrigger, WebhookDeps } from './deps.js';

/**
 * The event endpoints (`docs/ingest.md`), as a route module for `ServerOptions.extraRoutes`:
 *
 * - `POST /hooks/github`, `/hooks/gitlab`, `/hooks/gitea` (also Forgejo), `/hooks/generic`:
 *   signed by each source's `webhook_secret`, so no API token is asked for (`signature`).
 * - `POST /hooks/git`: from hooks installed by `nightless hook install`; needs the API token,
 *   which the server's auth hook checks (the `hook` scope).
 *
 * Every accepted event is in the inbox before the reply is sent (202); the scheduler picks it
 * up asynchronously. Deliveries handled together share one inbox transaction (`groupCommit`).
 * Safe to register once per server; the plugin keeps its raw-body parser to its own scope, and
 * its errors become responses in the server's error handler (`server/errors.ts`).
 */
export function webhookRoutes(webhookDeps: WebhookDeps) {
  const deps: WebhookDeps = { ...webhookDeps, target: groupCommit(webhookDeps.target) };
  const bodyLimit = deps.bodyLimit ?? DEFAULT_WEBHOOK_BODY_LIMIT;
  const bodies = new BodiesInFlight(deps.inFlight ?? inFlightLimits(bodyLimit));
  return function routes(app: FastifyInstance): Promise<void> {
    keepRawBodies(app, bodyLimit);
    limitBodiesInFlight(app, bodies);
    const open = { bodyLimit };
    for (const driver of [githubDriver, gitlabDriver, giteaDriver]) {
      app.post(`/hooks/${driver.name}`, open, forgeHandler(driver, deps));
    }
    app.post('/hooks/generic', open, genericHandler(deps));
    app.post('/hooks/git', { bodyLimit }, gitHookHandler(deps));
    return Promise.resolve();
  };
}
