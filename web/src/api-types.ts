import type { z } from 'zod';
import type {
  BuildDetailSchema,
  BuildSchema,
  BuildStateSchema,
} from '../../src/server/schemas/build.js';
import type { DecisionRecordSchema } from '../../src/server/schemas/decision.js';
import type { DeliverySchema, ReportTargetSchema } from '../../src/server/schemas/delivery.js';
import type { ErrorBody } from '../../src/server/schemas/error.js';
import type { JobSchema } from '../../src/server/schemas/job.js';
import type { LogLineSchema } from '../../src/server/schemas/log.js';
import type { SourceSchema } from '../../src/server/schemas/source.js';
import type { triggerResponses } from '../../src/server/schemas/trigger.js';
import type { ExpectedJobSchema, TraceNodeSchema } from '../../src/server/schemas/trace.js';

/**
 * The API's types, inferred from the server's zod schemas (type-only imports: nothing of the
 * server reaches the bundle). A change to a response shape breaks this build, not a page.
 */
export type Build = z.infer<typeof BuildSchema>;
export type BuildDetail = z.infer<typeof BuildDetailSchema>;
export type BuildState = z.infer<typeof BuildStateSchema>;
export type Decision = z.infer<typeof DecisionRecordSchema>;
export type Delivery = z.infer<typeof DeliverySchema>;
export type ReportTarget = z.infer<typeof ReportTargetSchema>;
export type Job = z.infer<typeof JobSchema>;
export type LogLine = z.infer<typeof LogLineSchema>;
export type Source = z.infer<typeof SourceSchema>;
export type TraceNode = z.infer<typeof TraceNodeSchema>;
export type ExpectedJob = z.infer<typeof ExpectedJobSchema>;
export type ApiErrorBody = ErrorBody;

export interface LogPage {
  readonly lines: LogLine[];
  readonly nextOffset: number;
  readonly size: number;
  readonly done: boolean;
}

export interface TraceResult {
  readonly source: string;
  readonly version: string;
  readonly nodes: readonly TraceNode[];
}

export type TriggerResult = z.infer<(typeof triggerResponses)[202]>;
