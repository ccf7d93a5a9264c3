import { followsRequestsInto, requestRef } from '../../core/change-request.js';
import type { GitSource } from '../../core/pipeline.js';
import type { ChangeRequestPort } from '../../store/ports/change-requests.js';
import type { NewEvent } from '../../store/ports.js';
import { listOpenRequests } from './forge-api.js';

export interface RequestPollResult {
  readonly events: NewEvent[];
  /** A request head (or a whole request) no webhook announced, on a source already known. */
  readonly missed: boolean;
}

/**
 * The fallback poll of a source's change requests through the forge's API: each open request
 * whose head differs from the known head of `pr/<n>` becomes a `poll` event (and its description
 * is recorded, so trust is decided as for a webhook); a request still open here but missing from
 * the forge's list is announced closed. Sources without `change_requests.api` poll nothing.
 */
export async function pollRequests(
  source: GitSource,
  known: ReadonlyArray<{ readonly ref: string | null; readonly version: string }>,
  at: number,
  timeoutMs: number,
  requests: Pick<ChangeRequestPort, 'recordRequest' | 'listRequests'> | undefined,
): Promise<RequestPollResult> {
  const cr = source.changeRequests;
  if (!cr?.api || !cr.forge) return { events: [], missed: false };
  const open = (await listOpenRequests(cr.forge, cr.api, timeoutMs)).filter((r) =>
    followsRequestsInto(source, r.target),
  );
  const events: NewEvent[] = [];
  let missed = false;
  for (const r of open) {
    const ref = requestRef(r.number);
    if (known.find((k) => k.ref === ref)?.version === r.headSha) continue;
    // The source had heads already: this request (or its new head) reached us only by polling.
    missed ||= known.length > 0;
    await requests?.recordRequest({
      source: source.name,
      number: r.number,
      forge: cr.forge,
      title: r.title,
      author: r.author,
      target: r.target,
      headSha: r.headSha,
      fork: r.fork,
      state: 'open',
      url: r.url,
      updatedAt: at,
    });
    events.push(event(source.name, ref, r.headSha, r.target, false, at));
  }
  const listed = new Set(open.map((r) => r.number));
  for (const r of (await requests?.listRequests({ source: source.name, state: 'open' })) ?? []) {
    if (listed.has(r.number)) continue;
    missed = true;
    await requests?.recordRequest({ ...r, state: 'closed', updatedAt: at });
    events.push(event(source.name, requestRef(r.number), r.headSha, r.target, true, at));
  }
  return { events, missed };
}

function event(
  source: string,
  ref: string,
  version: string,
  target: string,
  closed: boolean,
  at: number,
): NewEvent {
  return {
    kind: 'source',
    source,
    version,
    ref,
    origin: 'poll',
    deliveryId: null,
    changedPaths: null,
    producedBy: null,
    receivedAt: at,
    request: { number: Number(ref.slice(3)), target, closed },
  };
}
