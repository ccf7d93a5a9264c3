import type { ForgeDriver } from '../webhooks/forge-driver.js';
import { header } from '../webhooks/forge-driver.js';
import { hmacSha256Matches, stripSha256Prefix } from '../webhooks/signature.js';
import { parseGiteaPush, parseGiteaRefEvent } from './payload.js';
import { parseGiteaPullRequest } from './pull-request.js';

/**
 * Gitea and Forgejo (same payloads): `X-Gitea-Event`/`X-Forgejo-Event`,
 * `X-Gitea-Delivery`/`X-Forgejo-Delivery`, and the signature as a bare hex HMAC-SHA256 in
 * `X-Gitea-Signature`/`X-Forgejo-Signature` — or `X-Hub-Signature-256: sha256=<hex>`, which newer
 * versions send too. Gitea's "Test delivery" sends a push event, so there is no ping.
 */
export const giteaDriver: ForgeDriver = {
  name: 'gitea',
  eventType: (h) =>
    header(h, 'x-forgejo-event') ?? header(h, 'x-gitea-event') ?? header(h, 'x-gogs-event'),
  deliveryId: (h) =>
    header(h, 'x-forgejo-delivery') ??
    header(h, 'x-gitea-delivery') ??
    header(h, 'x-gogs-delivery'),
  verify(h, raw, secret) {
    const bare = header(h, 'x-forgejo-signature') ?? header(h, 'x-gitea-signature');
    const hub = header(h, 'x-hub-signature-256');
    const hex = bare ?? (hub === null ? null : stripSha256Prefix(hub));
    if (bare === null && hub === null) return 'missing';
    return hex !== null && hmacSha256Matches(raw, secret, hex) ? 'ok' : 'mismatch';
  },
  parse(event, body) {
    switch (event) {
      case 'push':
        return parseGiteaPush(body);
      case 'pull_request':
        return parseGiteaPullRequest(body);
      case 'create':
      case 'delete':
        return parseGiteaRefEvent(event, body);
      default:
        return { kind: 'ignored', reason: `event type "${event}" is not handled` };
    }
  },
};
