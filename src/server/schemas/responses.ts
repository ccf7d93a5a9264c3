import { z } from 'zod';
import { ArtifactFileSchema, BuildDetailSchema, BuildSchema, BuildStateSchema } from './build.js';
import { DecisionRecordSchema, EventRecordSchema } from './decision.js';
import { TraceNodeSchema } from './trace.js';

/**
 * The response bodies of the API, one schema each: the server validates what it sends with them,
 * and `src/api/types.ts` derives the types the CLI (and the dashboard) read them with. Change a
 * body here and both sides see it.
 */

export const JobSchema = z
  .object({
    name: z.string(),
    inputs: z.array(z.string()).readonly(),
    steps: z.number().int().meta({ description: 'Number of steps.' }),
    outputs: z.array(z.string()).meta({ description: 'Output names.' }),
    latest: BuildSchema.nullable(),
    lastFinished: BuildSchema.nullable().meta({
      description: 'Newest passed, failed or error build.',
    }),
    runsOn: z
      .array(z.string())
      .readonly()
      .meta({ description: '`runs_on:` labels: only an agent with all of them runs its builds.' }),
    waiting: z.string().nullable().meta({
      description:
        'Why its queued build has not started, when nightless knows (`waiting for an agent with linux, arm64`).',
    }),
  })
  .meta({ id: 'Job' });

export const JobsResponse = z.object({ jobs: z.array(JobSchema) });

export const SourceSchema = z
  .object({
    name: z.string(),
    kind: z.enum(['git', 'http', 'amqp', 'job-output']),
    url: z.string().nullable().meta({ description: 'Credentials and secret values removed.' }),
    branches: z.array(z.string()).readonly().optional().meta({ description: 'git sources only.' }),
    queue: z
      .string()
      .optional()
      .meta({
        description:
          'amqp sources only: the broker queue this installation consumes from ' +
          '(`nightless.<installation-id>.<source>`).',
      }),
    fallbackPollMs: z.number().nullable().meta({ description: '`null`: no fallback polling.' }),
    heads: z
      .array(
        z.object({
          ref: z.string().nullable(),
          version: z.string(),
          at: z.number(),
          origin: z.string(),
        }),
      )
      .readonly(),
    nextCheckAt: z.number().nullable(),
    lastCheckAt: z.number().nullable(),
    lastCheckOk: z.boolean().nullable(),
    lastError: z.string().nullable(),
    pollFailures: z.number().int(),
    missedEvents: z.number().int(),
    eventsReceived: z.number().int(),
    lastEventAt: z.number().nullable(),
  })
  .meta({ id: 'Source' });

export const SourcesResponse = z.object({ sources: z.array(SourceSchema) });

export const BuildsResponse = z.object({
  builds: z.array(BuildSchema),
  next: z
    .number()
    .int()
    .nullable()
    .meta({ description: 'Pass as `before` for the next page; null on the last.' }),
});

export const BuildResponse = z.object({ build: BuildDetailSchema });

export const CancelResponse = z.object({ build: BuildSchema });

/** A trigger's and a rebuild's answer: the queued build (null: nothing built) and why. */
export const TriggerResponse = z.object({
  build: BuildSchema.nullable(),
  decisions: z.array(DecisionRecordSchema).readonly(),
});

export const LogLineSchema = z
  .object({
    ts: z.number().meta({ description: 'Epoch milliseconds when the line was written.' }),
    stream: z.enum(['stdout', 'stderr', 'system']),
    text: z.string(),
  })
  .meta({ id: 'LogLine' });

export const LogResponse = z.object({
  lines: z.array(LogLineSchema),
  nextOffset: z.number().int(),
  size: z.number().int(),
  done: z.boolean().meta({ description: 'The build finished and `nextOffset` reached `size`.' }),
});

/** `data` of the log stream's last message (`event: end`). */
export const LogEnd = z.object({ state: BuildStateSchema });

/** `GET /api/why`: `job` or `source`, whichever was asked for. */
export const WhyResponse = z.object({
  job: z.string().optional(),
  waiting: z
    .string()
    .optional()
    .meta({ description: 'For a job with a queued build: what it waits for, when known.' }),
  source: z.string().optional(),
  decisions: z.array(DecisionRecordSchema).readonly(),
});

export const EventResponse = z.object({
  event: EventRecordSchema,
  decisions: z.array(DecisionRecordSchema).readonly(),
});

export const TraceResponse = z.object({
  source: z.string(),
  version: z.string().meta({ description: 'The full version the prefix resolved to.' }),
  nodes: z.array(TraceNodeSchema).readonly(),
});

export const ArtifactListing = z.object({ files: z.array(ArtifactFileSchema).readonly() });

export const BUILD_EVENT_TYPES = [
  'queued',
  'started',
  'finished',
  'superseded',
  'cancelled',
  'skipped',
] as const;

/** `data` of an `/api/events` message (`event: build.<type>`). */
export const BuildEvent = z.object({ type: z.enum(BUILD_EVENT_TYPES), build: BuildSchema });
