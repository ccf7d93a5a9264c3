import type { Forge } from '../../core/change-request.js';
import type { ChangeRequestPort } from '../../store/ports/change-requests.js';
import type { NewEvent } from '../../store/ports.js';
import type { RefUpdate } from './webhook-parse.js';

/**
 * Keeps what the forge said about each request (title, author, target, fork, state) for the
 * sources its events go to — before those events are written, so the runner already knows
 * whether a build of the request is trusted when the scheduler queues it.
 */
export async function recordRequests(
  port: Pick<ChangeRequestPort, 'recordRequest'> | undefined,
  forge: Forge,
  updates: readonly RefUpdate[],
  events: readonly NewEvent[],
  now: number,
): Promise<void> {
  if (!port) return;
  for (const e of events) {
    if (e.kind !== 'source' || e.request === undefined) continue;
    const u = updates.find((x) => x.ref === e.ref && x.request !== undefined);
    const r = u?.request;
    if (!r) continue;
    await port.recordRequest({
      source: e.source,
      number: r.number,
      forge,
      title: r.title,
      author: r.author,
      target: r.target,
      headSha: e.version,
      fork: r.fork,
      state: r.state,
      url: r.url,
      updatedAt: now,
    });
  }
}
