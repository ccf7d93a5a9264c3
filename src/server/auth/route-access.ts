import type { RouteAccess } from '../../core/access.js';

export type AccessTable = Readonly<Record<string, RouteAccess>>;

/**
 * Every route of the server and what it needs, in one place (docs/security.md prints this table).
 * A route missing here cannot be registered: the server refuses to start (`accessOf` throws), so
 * no endpoint is unprotected by omission. HEAD follows GET.
 */
export const ROUTE_ACCESS: AccessTable = {
  'GET /healthz': 'public',
  'GET /readyz': 'public',
  // Describes the API, holds no data: tools fetch it without a token.
  'GET /api/openapi.json': 'public',
  'GET /api/whoami': 'token',
  // The dashboard's static files (web/dist) and its page paths: no data, which the API guards.
  'GET /': 'public',
  'GET /*': 'public',

  'GET /api/sources': 'read',
  'GET /api/jobs': 'read',
  'GET /api/builds': 'read',
  'GET /api/builds/:id': 'read',
  'GET /api/builds/:id/log': 'read',
  'GET /api/builds/:id/artifacts/:name': 'read',
  'GET /api/events': 'read',
  'GET /api/events/:id': 'read',
  'GET /api/why': 'read',
  'GET /api/trace/:source/:version': 'read',
  'GET /api/deliveries': 'read',
  'GET /api/requests': 'read',
  'GET /api/slos': 'read',
  'GET /metrics': 'read',

  'POST /api/jobs/:job/trigger': 'trigger',
  'POST /api/builds/:id/cancel': 'trigger',
  'POST /api/builds/:id/rebuild': 'trigger',
  'POST /api/sources/poll': 'trigger',
  'POST /api/sources/:name/poll': 'trigger',
  'POST /api/deliveries/:id/retry': 'trigger',

  'POST /api/requests/:source/:number/approve': 'approve',

  // Forge webhooks and the generic endpoint carry a signature by a source's `webhook_secret`.
  'POST /hooks/github': 'signature',
  'POST /hooks/gitlab': 'signature',
  'POST /hooks/gitea': 'signature',
  'POST /hooks/generic': 'signature',
  'POST /hooks/git': 'hook',

  // Build agents (`nightless agent`): an `agent` token does these and nothing else.
  'POST /api/agent/claim': 'agent',
  'POST /api/agent/heartbeat': 'agent',
  'PUT /api/agent/builds/:id/log': 'agent',
  'POST /api/agent/builds/:id/finish': 'agent',
  'GET /api/agent/blobs/:digest': 'agent',
  'PUT /api/agent/blobs/:digest': 'agent',
  'GET /api/agents': 'read',
  'GET /api/agent-tokens': 'admin',
  'POST /api/agent-tokens': 'admin',
  'DELETE /api/agent-tokens/:name': 'admin',

  'GET /api/tokens': 'admin',
  'POST /api/tokens': 'admin',
  'DELETE /api/tokens/:name': 'admin',
  'GET /api/audit': 'admin',
};

class UndeclaredRouteError extends Error {
  constructor(readonly route: string) {
    super(
      `route "${route}" declares no access: add it to ROUTE_ACCESS in src/server/auth/route-access.ts`,
    );
    this.name = 'UndeclaredRouteError';
  }
}

/** The route's key in {@link ROUTE_ACCESS}: `GET /api/builds/:id`. */
export function routeKey(method: string, url: string): string {
  return `${method === 'HEAD' ? 'GET' : method} ${url}`;
}

export function accessOf(table: AccessTable, method: string, url: string): RouteAccess {
  const key = routeKey(method, url);
  const access = table[key];
  if (access === undefined) throw new UndeclaredRouteError(key);
  return access;
}
