import type { EventOrigin } from '../../core/build.js';
import type { GitSource } from '../../core/pipeline.js';
import type { NewEvent } from '../../store/ports.js';
import { followsRef, refName } from './match-sources.js';
import { followsRequestsInto } from '../../core/change-request.js';
import type { RefUpdate, RequestUpdate } from './webhook-parse.js';

export interface EventPlan {
  /** One inbox event per (update, source following it). */
  readonly events: NewEvent[];
  /** Why updates produced nothing, one line each (the 202 body). */
  readonly ignored: string[];
}

export interface PlanContext {
  /** The sources the delivery is authenticated for (signature checked). */
  readonly sources: readonly GitSource[];
  /** The repository as shown in messages. */
  readonly repo: string;
  readonly origin: EventOrigin;
  /**
   * `<forge>:<delivery id>`; each event gets `<deliveryId>/<source>` (one delivery can feed
   * several sources, and the store dedupes per event), `null` when the sender has no id.
   */
  readonly deliveryId: string | null;
  readonly receivedAt: number;
}

/**
 * Turns ref updates into inbox events. Deletions build nothing (there is no version to build);
 * refs no source follows are reported, not stored.
 */
export function planEvents(updates: readonly RefUpdate[], ctx: PlanContext): EventPlan {
  const events: NewEvent[] = [];
  const ignored: string[] = [];
  for (const u of updates) {
    if (u.request !== undefined) {
      planRequest(u, u.request, ctx, events, ignored);
      continue;
    }
    const ref = refName(u.ref);
    if (!ref) {
      ignored.push(`${u.ref} is neither a branch nor a tag`);
      continue;
    }
    if (u.version === null) {
      ignored.push(`${ref.tag ? 'tag' : 'branch'} deleted: ${ref.name}`);
      continue;
    }
    const following = ctx.sources.filter((s) => followsRef(s, ref.name, ref.tag));
    if (following.length === 0) {
      ignored.push(`no source follows ${ctx.repo} ${ref.name}`);
      continue;
    }
    for (const s of following) {
      events.push({
        kind: 'source',
        source: s.name,
        version: u.version,
        ref: ref.name,
        origin: ctx.origin,
        deliveryId: ctx.deliveryId === null ? null : `${ctx.deliveryId}/${s.name}`,
        changedPaths: u.changedPaths,
        producedBy: null,
        receivedAt: ctx.receivedAt,
      });
    }
  }
  return { events, ignored };
}

/**
 * A change request update becomes one event per source that follows requests into its target;
 * the event carries the target and whether the request is closed (the scheduler's facts).
 */
function planRequest(
  u: RefUpdate,
  r: RequestUpdate,
  ctx: PlanContext,
  events: NewEvent[],
  ignored: string[],
): void {
  if (u.version === null) return;
  const following = ctx.sources.filter((s) => followsRequestsInto(s, r.target));
  if (following.length === 0) {
    ignored.push(`no source follows change requests of ${ctx.repo} into ${r.target}`);
    return;
  }
  for (const s of following) {
    events.push({
      kind: 'source',
      source: s.name,
      version: u.version,
      ref: u.ref,
      origin: ctx.origin,
      deliveryId: ctx.deliveryId === null ? null : `${ctx.deliveryId}/${s.name}`,
      changedPaths: u.changedPaths,
      producedBy: null,
      receivedAt: ctx.receivedAt,
      request: {
        number: r.number,
        target: r.target,
        closed: r.state !== 'open',
        ...(r.reopened === true ? { reopened: true } : {}),
      },
    });
  }
}
