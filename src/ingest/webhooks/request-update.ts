import { requestRef } from '../../core/change-request.js';
import type { RefUpdate, RequestUpdate, WebhookParse } from './webhook-parse.js';

/**
 * A change request event as a ref update: the ref `pr/<number>`, the head commit as the version.
 * A closed or merged request still names its head: the scheduler cancels its builds.
 */
export function requestVersions(
  repoUrls: readonly string[],
  headSha: string,
  request: RequestUpdate,
): WebhookParse {
  const update: RefUpdate = {
    ref: requestRef(request.number),
    version: headSha,
    // Forges do not list a request's changed files in the hook: unknown, so path filters pass.
    changedPaths: null,
    forced: false,
    request,
  };
  return { kind: 'versions', repoUrls, updates: [update] };
}

/** The 202 answer for request actions that change no code (labels, assignees, reviews). */
export function requestActionIgnored(forge: string, action: string): WebhookParse {
  return {
    kind: 'ignored',
    reason: `${forge} change request action "${action}" changes no code: nothing to build`,
  };
}
