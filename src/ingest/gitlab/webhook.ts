import type { ForgeDriver } from '../webhooks/forge-driver.js';
import { header } from '../webhooks/forge-driver.js';
import { tokenMatches } from '../webhooks/signature.js';
import { parseGitlabMergeRequest } from './merge-request.js';
import { parseGitlabPush } from './payload.js';

/**
 * GitLab: `X-Gitlab-Event` (`Push Hook`, `Tag Push Hook`, `System Hook`), the secret token sent
 * as is in `X-Gitlab-Token` (no HMAC: compared via sha256 digests in constant time).
 *
 * Delivery id: `Idempotency-Key` (GitLab ≥ 17.4; the same on every retry of an event), else
 * `X-Gitlab-Event-UUID`, else `X-Gitlab-Webhook-UUID`. The last one is random per request in
 * GitLab's sender, so it dedupes nothing — harmless, the scheduler still drops a known version.
 */
export const gitlabDriver: ForgeDriver = {
  name: 'gitlab',
  eventType: (h) => header(h, 'x-gitlab-event'),
  deliveryId: (h) =>
    header(h, 'idempotency-key') ??
    header(h, 'x-gitlab-event-uuid') ??
    header(h, 'x-gitlab-webhook-uuid'),
  verify(h, _raw, secret) {
    const presented = header(h, 'x-gitlab-token');
    if (presented === null) return 'missing';
    return tokenMatches(presented, secret) ? 'ok' : 'mismatch';
  },
  parse(event, body) {
    // System hooks carry the same push payload under `X-Gitlab-Event: System Hook`.
    const kind =
      typeof body === 'object' && body !== null && 'object_kind' in body ? body.object_kind : null;
    const pushLike = event === 'Push Hook' || event === 'Tag Push Hook' || event === 'System Hook';
    if (pushLike && (kind === 'push' || kind === 'tag_push')) return parseGitlabPush(body);
    if (event === 'Push Hook' || event === 'Tag Push Hook') return parseGitlabPush(body);
    if (event === 'Merge Request Hook' || (event === 'System Hook' && kind === 'merge_request'))
      return parseGitlabMergeRequest(body);
    return { kind: 'ignored', reason: `event type "${event}" is not handled` };
  },
};
