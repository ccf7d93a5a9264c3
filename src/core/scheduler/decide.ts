import type { BuildCause } from '../build.js';
import type { SchedulerEvent, TriggerEvent } from '../event.js';
import { assertNever } from '../event.js';
import { decideSource } from './decide-source.js';
import { note, unknownJob } from './decision-text.js';
import { Planner } from './planner.js';
import type { Decision, SchedulerSnapshot } from './types.js';

/**
 * The scheduler: given the store's state and one event, the decisions to apply. Pure and
 * deterministic — no clock but `now`, no I/O — so the same event sequence always yields the
 * same decisions (DESIGN.md, "Scheduler rules").
 */
export function decide(
  snapshot: SchedulerSnapshot,
  event: SchedulerEvent,
  now: number,
): Decision[] {
  switch (event.kind) {
    case 'source':
      return decideSource(snapshot, event, now);
    case 'trigger':
      return decideTrigger(snapshot, event);
    case 'reconcile':
      return decideReconcile(snapshot);
    case 'settle': {
      const job = snapshot.pipeline.jobs.get(event.job);
      if (!job) return [unknownJob(event.job)];
      // The quiet period that deferred the job: its own, else the longest of its inputs'.
      const fromSources = job.inputs.map(
        (s) => snapshot.pipeline.sources.get(s)?.quietPeriodMs ?? 0,
      );
      const quiet = job.quietPeriodMs ?? Math.max(0, ...fromSources);
      return new Planner(snapshot).schedule(job, { kind: 'settled', quietPeriodMs: quiet });
    }
    default:
      return assertNever(event, 'scheduler event');
  }
}

function decideTrigger(snapshot: SchedulerSnapshot, event: TriggerEvent): Decision[] {
  const job = snapshot.pipeline.jobs.get(event.job);
  if (!job) return [unknownJob(event.job)];
  const cause: BuildCause = {
    kind: 'manual',
    forced: event.force,
    by: event.by,
    ...(event.pins.length > 0 ? { pins: event.pins } : {}),
    ...(event.rebuildOf !== null ? { rebuildOf: event.rebuildOf } : {}),
  };
  const foreign = event.pins.filter((p) => !job.inputs.includes(p.source));
  if (foreign.length > 0) {
    // The API refuses these; a pipeline reloaded between the request and the decision can't.
    return [
      note({
        job: job.name,
        source: foreign[0]?.source ?? null,
        version: foreign[0]?.version ?? null,
        rule: 'unknown-source',
        detail: `${job.name} has no input ${foreign.map((p) => p.source).join(', ')} to pin`,
      }),
    ];
  }
  return new Planner(snapshot, null, event.pins, event.id).schedule(job, cause, {
    force: event.force,
  });
}

function decideReconcile(snapshot: SchedulerSnapshot): Decision[] {
  const planner = new Planner(snapshot);
  const decisions: Decision[] = [];
  for (const name of snapshot.pipeline.order) {
    const job = snapshot.pipeline.jobs.get(name);
    if (!job || snapshot.lastDefinitionHash(name) === snapshot.definitionHash(name)) continue;
    decisions.push(...planner.schedule(job, { kind: 'definition' }, { quietWhenWaiting: true }));
  }
  return decisions;
}
