import type { z } from 'zod';
import type {
  ArtifactFileSchema,
  BuildDetailSchema,
  BuildSchema,
  BuildStateSchema,
  FailureClassSchema,
} from '../server/schemas/build.js';
import type { ApprovalSchema, ChangeRequestSchema } from '../server/schemas/change-request.js';
import type { DecisionRecordSchema, EventRecordSchema } from '../server/schemas/decision.js';
import type { DeliverySchema, ReportTargetSchema } from '../server/schemas/delivery.js';
import type { ErrorBody as ErrorBodySchema } from '../server/schemas/error.js';
import type * as R from '../server/schemas/responses.js';
import type { SloReportSchema } from '../server/schemas/slo.js';
import type { ExpectedJobSchema, TraceNodeSchema } from '../server/schemas/trace.js';

/**
 * The HTTP API's bodies as a client reads them, derived from the schemas the server answers
 * with (`docs/api.md`). Type-only: importing this loads nothing at run time, so the CLI's cold
 * start stays light, and the web dashboard can use the same types.
 */

export type ApiBuild = z.output<typeof BuildSchema>;
/** A build's own fields without the links the server adds (`url`, `apiUrl`). */
export type ApiBuildFields = Omit<ApiBuild, 'url' | 'apiUrl'>;
export type ApiBuildDetail = z.output<typeof BuildDetailSchema>;
export type ApiBuildState = z.output<typeof BuildStateSchema>;
export type FailureClassName = z.output<typeof FailureClassSchema>;
export type ApiBuildCause = ApiBuild['cause'];
export type ApiCoverage = NonNullable<ApiBuild['coverage']>;
export type ArtifactFile = z.output<typeof ArtifactFileSchema>;
export type DecisionRecord = z.output<typeof DecisionRecordSchema>;
export type EventRecord = z.output<typeof EventRecordSchema>;
export type ErrorBody = z.output<typeof ErrorBodySchema>;

export type JobSummary = z.output<typeof R.JobSchema>;
export type JobsResponse = z.output<typeof R.JobsResponse>;
export type SourceSummary = z.output<typeof R.SourceSchema>;
export type SourcesResponse = z.output<typeof R.SourcesResponse>;
export type BuildsResponse = z.output<typeof R.BuildsResponse>;
export type BuildResponse = z.output<typeof R.BuildResponse>;
export type CancelResponse = z.output<typeof R.CancelResponse>;
export type TriggerResponse = z.output<typeof R.TriggerResponse>;
export type LogLine = z.output<typeof R.LogLineSchema>;
export type LogResponse = z.output<typeof R.LogResponse>;
export type LogEnd = z.output<typeof R.LogEnd>;
export type WhyResponse = z.output<typeof R.WhyResponse>;
export type EventResponse = z.output<typeof R.EventResponse>;
export type TraceResponse = z.output<typeof R.TraceResponse>;
export type TraceNode = z.output<typeof TraceNodeSchema>;
export type ExpectedJob = z.output<typeof ExpectedJobSchema>;
export type ArtifactListing = z.output<typeof R.ArtifactListing>;
export type BuildEvent = z.output<typeof R.BuildEvent>;
export type Delivery = z.output<typeof DeliverySchema>;
export type ReportTarget = z.output<typeof ReportTargetSchema>;
export type SloReportView = z.output<typeof SloReportSchema>;
export type ChangeRequestView = z.output<typeof ChangeRequestSchema>;
export type ApprovalView = z.output<typeof ApprovalSchema>;
