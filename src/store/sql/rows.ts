import type { RequestFacts } from '../../core/change-request.js';
import type { Selectable } from 'kysely';
import type {
  Build,
  BuildCause,
  BuildInput,
  BuildState,
  EventOrigin,
  PinnedInput,
} from '../../core/build.js';
import { failureClassOfStored, isFailureClass } from '../../core/failure-class.js';
import type { Ancestry, SchedulerEvent } from '../../core/event.js';
import type { BuildRef, SourceHead } from '../../core/scheduler/index.js';
import type { Database } from '../schema.js';

export type BuildRow = Selectable<Database['builds']>;
export type InputRow = Selectable<Database['build_inputs']>;

export function toBuild(row: BuildRow, inputs: readonly InputRow[]): Build {
  const lines = row.coverage_lines;
  const branches = row.coverage_branches;
  return {
    id: Number(row.id),
    job: row.job,
    state: row.state as BuildState,
    fingerprint: row.fingerprint,
    inputs: inputs
      .filter((i) => Number(i.build_id) === Number(row.id))
      .sort((a, b) => a.position - b.position)
      .map(toInput),
    cause: JSON.parse(row.cause) as BuildCause,
    forced: row.forced === 1,
    queuedAt: Number(row.queued_at),
    startedAt: num(row.started_at),
    finishedAt: num(row.finished_at),
    failedStep: row.failed_step,
    reason: row.reason,
    failureClass: isFailureClass(row.failure_class)
      ? row.failure_class
      : failureClassOfStored(row.state, row.reason),
    relatedBuild: num(row.related_build),
    exitCode: row.exit_code,
    coverage:
      lines === null && branches === null
        ? null
        : {
            lines,
            branches,
            linesDelta: row.coverage_lines_delta,
            branchesDelta: row.coverage_branches_delta,
          },
    attempt: row.attempt,
    concurrencyGroup: row.concurrency_group,
  };
}

function toInput(i: InputRow): BuildInput {
  return {
    source: i.source,
    version: i.version,
    ref: i.ref,
    origin: i.origin as EventOrigin | null,
    eventId: num(i.event_id),
  };
}

export function toBuildRef(
  row: Pick<BuildRow, 'id' | 'job' | 'state' | 'fingerprint' | 'forced' | 'concurrency_group'>,
): BuildRef {
  return {
    id: Number(row.id),
    job: row.job,
    state: row.state as BuildState,
    fingerprint: row.fingerprint,
    forced: row.forced === 1,
    group: row.concurrency_group,
  };
}

export function toHead(row: {
  source: string;
  version: string;
  ref: string;
  event_id: number | null;
  origin: string;
  id: number;
  produced_by: number | null;
}): SourceHead {
  return {
    source: row.source,
    version: row.version,
    ref: row.ref === '' ? null : row.ref,
    eventId: num(row.event_id),
    origin: row.origin as EventOrigin,
    seq: Number(row.id),
    producedBy: num(row.produced_by),
  };
}

export function toSchedulerEvent(row: Selectable<Database['events']>): SchedulerEvent {
  const detail = JSON.parse(row.detail) as {
    changedPaths?: string[] | null;
    producedBy?: number | null;
    ancestry?: Ancestry | null;
    request?: RequestFacts;
    job?: string;
    force?: boolean;
    by?: string | null;
    pins?: PinnedInput[];
    rebuildOf?: number | null;
  };
  const id = Number(row.id);
  const receivedAt = Number(row.received_at);
  // Plain object literals, no spreads: this runs once per inbox event (bench/scheduler (c)).
  switch (row.kind) {
    case 'source':
      return {
        kind: 'source',
        id,
        receivedAt,
        source: row.source ?? '',
        version: row.version ?? '',
        origin: row.origin as EventOrigin,
        ref: row.ref,
        changedPaths: detail.changedPaths ?? null,
        producedBy: detail.producedBy ?? null,
        ancestry: detail.ancestry ?? null,
        ...(detail.request === undefined ? {} : { request: detail.request }),
      };
    case 'trigger':
      return {
        kind: 'trigger',
        id,
        receivedAt,
        job: detail.job ?? '',
        force: detail.force ?? false,
        by: detail.by ?? null,
        pins: detail.pins ?? [],
        rebuildOf: detail.rebuildOf ?? null,
      };
    case 'settle':
      return { kind: 'settle', id, receivedAt, job: detail.job ?? '' };
    default:
      return { kind: 'reconcile', id, receivedAt };
  }
}

function num(v: number | null | bigint | string): number | null {
  return v === null ? null : Number(v);
}
