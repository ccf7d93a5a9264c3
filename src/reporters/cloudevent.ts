import type { FailureClass } from '../core/failure-class.js';
import type { Build, BuildInput, CoverageSummary } from '../core/build.js';
import type { CollectedOutput } from '../executor/port.js';
import type { OutboxRecord, OutboxType } from '../store/ports.js';

/** CloudEvents `type` of each outbox row type. */
const EVENT_TYPES: Readonly<Record<OutboxType, string>> = {
  queued: 'dev.nightless.build.queued',
  started: 'dev.nightless.build.started',
  finished: 'dev.nightless.build.finished',
  superseded: 'dev.nightless.build.superseded',
  cancelled: 'dev.nightless.build.cancelled',
  skipped: 'dev.nightless.build.skipped',
};

/** The `data` of every build event (docs/events.md, "Event schema"). Version 1. */
export interface BuildEventData {
  readonly pipeline: string;
  readonly job: string;
  readonly build: {
    readonly id: number;
    readonly url: string;
    readonly attempt: number;
    readonly forced: boolean;
  };
  readonly fingerprint: string;
  /** The input set: one entry per input, in the job's order. */
  readonly inputs: ReadonlyArray<{
    readonly source: string;
    readonly version: string;
    readonly ref: string | null;
    /** How the version arrived: webhook, hook, bus, poll, manual, output, reload. */
    readonly origin: string | null;
    /** The inbox event that announced the version (`nightless why`). */
    readonly eventId: number | null;
  }>;
  /** `queued`, `running`, or the finished state. */
  readonly state: Build['state'];
  /** `passed`/`failed`/`error`/`cancelled`/`superseded`/`skipped` once finished, else `null`. */
  readonly result: string | null;
  readonly reason: string | null;
  /**
   * Whose failure it is (`user`, `timeout`, `network`, `infrastructure`, `cancelled`,
   * `superseded`); `null` while active and for passed/skipped builds.
   */
  readonly failureClass: FailureClass | null;
  /** A retry (`retry:` or a re-queue after `lost`): the attempt before it; else `null`. */
  readonly retryOf: number | null;
  readonly failedStep: string | null;
  readonly exitCode: number | null;
  /** `superseded` → the build that replaced it; `skipped` → the identical build. */
  readonly relatedBuild: number | null;
  readonly queuedAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
  /** Running time (started → finished), `null` until finished or when it never started. */
  readonly durationMs: number | null;
  readonly coverage: CoverageSummary | null;
  /** Outputs with their digests; filled for `finished` events of builds that produced some. */
  readonly artifacts: ReadonlyArray<{
    readonly output: string;
    readonly digest: string;
    readonly files: ReadonlyArray<{
      readonly path: string;
      readonly digest: string;
      readonly size: number;
    }>;
  }>;
}

/** A CloudEvents 1.0 event in the JSON format (structured mode). */
/** The change request a build belongs to (`data.changeRequest`, only on such builds). */
export interface ChangeRequestData {
  readonly source: string;
  readonly number: number;
  readonly title: string;
  readonly author: string;
  readonly target: string;
  readonly headSha: string;
  readonly fork: boolean;
  readonly url: string | null;
  /**
   * `false` for a fork's head no maintainer approved: such builds are reported by commit status
   * only — no webhook or AMQP event that could set off a deploy downstream.
   */
  readonly trusted: boolean;
}

/** Whether report targets other than commit statuses may send this event (fork safety). */
export function sendsBeyondStatus(e: { readonly event: BuildCloudEvent }): boolean {
  return e.event.data.changeRequest?.trusted !== false;
}

export interface BuildCloudEvent {
  readonly specversion: '1.0';
  /** `<pipeline>:<outbox id>`: the same on every redelivery, so consumers can de-duplicate. */
  readonly id: string;
  readonly source: string;
  readonly type: string;
  readonly subject: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: BuildEventData & { readonly changeRequest?: ChangeRequestData };
}

export interface CloudEventContext {
  readonly pipeline: string;
  /** Base URL of the server, without a trailing slash. */
  readonly publicUrl: string;
  readonly buildUrl: (id: number) => string;
  /** Outputs of the build (only read for `finished` events). */
  readonly outputs: readonly CollectedOutput[];
}

/** Builds the event of one outbox row. Pure: the same row always gives the same event. */
export function toCloudEvent(record: OutboxRecord, ctx: CloudEventContext): BuildCloudEvent {
  const b = record.build;
  return {
    specversion: '1.0',
    id: `${ctx.pipeline}:${record.id}`,
    source: `${ctx.publicUrl}/pipelines/${ctx.pipeline}`,
    type: EVENT_TYPES[record.type],
    subject: `${b.job}/${b.id}`,
    time: new Date(record.createdAt).toISOString(),
    datacontenttype: 'application/json',
    data: {
      pipeline: ctx.pipeline,
      job: b.job,
      build: { id: b.id, url: ctx.buildUrl(b.id), attempt: b.attempt, forced: b.forced },
      fingerprint: b.fingerprint,
      inputs: b.inputs.map(toInput),
      state: b.state,
      result: b.state === 'queued' || b.state === 'running' ? null : b.state,
      reason: b.reason,
      failureClass: b.failureClass,
      retryOf: b.cause.kind === 'retry' ? b.cause.previousBuild : null,
      failedStep: b.failedStep,
      exitCode: b.exitCode,
      relatedBuild: b.relatedBuild,
      queuedAt: iso(b.queuedAt),
      startedAt: b.startedAt === null ? null : iso(b.startedAt),
      finishedAt: b.finishedAt === null ? null : iso(b.finishedAt),
      durationMs: b.startedAt !== null && b.finishedAt !== null ? b.finishedAt - b.startedAt : null,
      coverage: b.coverage,
      artifacts:
        record.type === 'finished'
          ? ctx.outputs.map((o) => ({
              output: o.name,
              digest: o.digest,
              files: o.files.map((f) => ({ path: f.path, digest: f.digest, size: f.size })),
            }))
          : [],
    },
  };
}

/** `<pipeline>.<job>.<type>`: the AMQP routing key (names contain no dots). */
export function routingKey(pipeline: string, record: OutboxRecord): string {
  return `${pipeline}.${record.build.job}.${record.type}`;
}

function toInput(i: BuildInput): BuildEventData['inputs'][number] {
  return { source: i.source, version: i.version, ref: i.ref, origin: i.origin, eventId: i.eventId };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
