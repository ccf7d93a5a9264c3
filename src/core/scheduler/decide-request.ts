import { followsRequestsInto, requestNumber } from '../change-request.js';
import type { SourceEvent } from '../event.js';
import type { GitSource } from '../pipeline.js';
import type { Decision, SchedulerSnapshot } from './types.js';

/**
 * The scheduler rules for change requests (docs/change-requests.md). A request is a ref of its
 * own (`pr/42`), so "a newer version supersedes the queued build of the same ref" already keeps
 * supersede inside one request; what differs is which branch filters see and what a close does.
 */

/** The branch a source's and a job's `branches` filters are matched against. */
export function filterBranch(event: SourceEvent): string | null {
  return event.request?.target ?? event.ref;
}

/**
 * A request event the source does not follow (no `change_requests`, or a target it does not
 * list) yields one `filtered-branch` note; `null` lets the event through.
 */
export function requestNotFollowed(def: GitSource, event: SourceEvent): Decision | null {
  const number = requestNumber(event.ref);
  if (number === null) return null;
  if (event.request && followsRequestsInto(def, event.request.target)) return null;
  const detail = !def.changeRequests
    ? `${event.source} does not follow change requests (change_requests is off)`
    : event.request
      ? `change request ${event.ref} targets "${event.request.target}", not one of ${event.source}'s change_requests targets (${def.changeRequests.targets.join(', ')})`
      : `${event.ref} carries no change request facts`;
  return {
    kind: 'note',
    rule: 'filtered-branch',
    detail,
    job: null,
    source: event.source,
    version: event.version,
  };
}

/**
 * A closed (or merged) request: its queued builds are cancelled, and its running ones too for
 * jobs with `cancel_running: true`. Nothing is queued and the head stays (a reopen builds it
 * again).
 */
export function closeRequest(snapshot: SchedulerSnapshot, event: SourceEvent): Decision[] {
  const at = { source: event.source, version: event.version };
  const out: Decision[] = [];
  for (const jobName of snapshot.pipeline.consumers.get(event.source) ?? []) {
    const job = snapshot.pipeline.jobs.get(jobName);
    if (!job) continue;
    const mine = snapshot
      .activeBuilds(jobName)
      .filter((b) => b.group === `${jobName}@${event.ref}`);
    const queued = mine.filter((b) => b.state === 'queued').map((b) => b.id);
    const running = job.cancelRunning
      ? mine.filter((b) => b.state === 'running').map((b) => b.id)
      : [];
    const left = mine.length - queued.length - running.length;
    const ids = [...queued, ...running].map((id) => `#${id}`).join(', ');
    out.push({
      kind: 'cancel-builds',
      ...at,
      job: jobName,
      queued,
      running,
      rule: 'request-closed',
      detail:
        (ids === ''
          ? `change request ${event.ref} closed: nothing of ${jobName} to cancel`
          : `change request ${event.ref} closed: cancels ${ids}`) +
        (left > 0
          ? ` (${left} running build${left === 1 ? '' : 's'} left to finish: cancel_running is off)`
          : ''),
    });
  }
  if (out.length === 0)
    out.push({
      kind: 'note',
      ...at,
      job: null,
      rule: 'request-closed',
      detail: `change request ${event.ref} closed: no job consumes ${event.source}`,
    });
  return out;
}
