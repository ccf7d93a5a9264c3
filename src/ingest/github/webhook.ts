import type { ForgeDriver } from '../webhooks/forge-driver.js';
import { header } from '../webhooks/forge-driver.js';
import { hmacSha256Matches, stripSha256Prefix } from '../webhooks/signature.js';
import { parseGithubPing, parseGithubPush } from './payload.js';
import { parseGithubPullRequest } from './pull-request.js';

/**
 * GitHub (and GitHub Enterprise Server): `X-GitHub-Event`, `X-GitHub-Delivery` (kept by
 * "Redeliver"), `X-Hub-Signature-256: sha256=<hex HMAC of the body>`. Only `push`, `ping` and
 * `pull_request` mean anything here; the SHA-1 `X-Hub-Signature` is not accepted.
 */
export const githubDriver: ForgeDriver = {
  name: 'github',
  eventType: (h) => header(h, 'x-github-event'),
  deliveryId: (h) => header(h, 'x-github-delivery'),
  verify(h, raw, secret) {
    const presented = header(h, 'x-hub-signature-256');
    if (presented === null) return 'missing';
    const hex = stripSha256Prefix(presented);
    return hex !== null && hmacSha256Matches(raw, secret, hex) ? 'ok' : 'mismatch';
  },
  parse(event, body) {
    switch (event) {
      case 'push':
        return parseGithubPush(body);
      case 'ping':
        return parseGithubPing(body);
      case 'pull_request':
        return parseGithubPullRequest(body);
      default:
        return { kind: 'ignored', reason: `event type "${event}" is not handled` };
    }
  },
};
