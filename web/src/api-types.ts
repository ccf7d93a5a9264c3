import type {
  ApiBuild,
  ApiBuildDetail,
  ApiBuildState,
  ApprovalView,
  ChangeRequestView,
  DecisionRecord,
  Delivery,
  ErrorBody,
  ExpectedJob,
  FailureClassName,
  JobSummary,
  LogLine,
  ReportTarget,
  SloReportView,
  SourceSummary,
  TraceNode,
  TriggerResponse,
} from '../../src/api/types.js';

/**
 * The API's types as the pages name them, from `src/api/types.ts` (inferred from the server's zod
 * schemas; type-only imports: nothing of the server reaches the bundle). A change to a response
 * shape breaks this build, not a page.
 */
export type Build = ApiBuild;
export type BuildDetail = ApiBuildDetail;
export type BuildState = ApiBuildState;
export type FailureClass = FailureClassName;
export type Decision = DecisionRecord;
export type { Delivery, ReportTarget, LogLine, TraceNode, ExpectedJob };
export type Job = JobSummary;
export type Source = SourceSummary;
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

export type TriggerResult = TriggerResponse;

export type ChangeRequest = ChangeRequestView;
export interface ApproveResult {
  readonly approval: ApprovalView;
  readonly request: ChangeRequestView;
}
export type Slo = SloReportView;
