import type { Build, BuildState } from '../core/build.js';
import type { ArtifactFile } from '../executor/port.js';
import type { BuildDetail, DecisionRecord, SourceStatus } from '../store/ports.js';

/**
 * Response bodies of the HTTP API (docs/api.md) as the CLI reads them. The CLI trusts the
 * server it talks to for shapes; it only imports domain types, never the server or the store.
 */

export interface JobSummary {
  readonly name: string;
  readonly inputs: readonly string[];
  readonly steps: number;
  readonly outputs: readonly string[];
  readonly latest: Build | null;
  readonly lastFinished: Build | null;
}

export interface JobsResponse {
  readonly jobs: readonly JobSummary[];
}

export interface SourceSummary extends SourceStatus {
  readonly branches?: readonly string[];
  /** amqp sources: the broker queue this installation consumes from. */
  readonly queue?: string;
  readonly fallbackPollMs: number | null;
}

export interface SourcesResponse {
  readonly sources: readonly SourceSummary[];
}

export interface BuildsResponse {
  readonly builds: readonly Build[];
  readonly next: number | null;
}

export interface BuildResponse {
  readonly build: BuildDetail;
}

export interface LogLine {
  readonly ts: number;
  readonly stream: 'stdout' | 'stderr' | 'system';
  readonly text: string;
}

export interface LogResponse {
  readonly lines: readonly LogLine[];
  readonly nextOffset: number;
  readonly size: number;
  readonly done: boolean;
}

export interface LogEnd {
  readonly state: BuildState;
}

export interface TriggerResponse {
  readonly build: Build | null;
  readonly decisions: readonly DecisionRecord[];
}

export interface CancelResponse {
  readonly build: Build;
}

/** `GET /api/why`: `job` or `source`, whichever was asked for. */
export interface WhyResponse {
  readonly job?: string;
  readonly source?: string;
  readonly decisions: readonly DecisionRecord[];
}

export interface TraceNode {
  readonly build: Build;
  readonly via: { readonly source: string; readonly version: string };
  readonly estimatedFinishAt: number | null;
  readonly reused: { readonly identicalOutputOf: number } | null;
  readonly children: readonly TraceNode[];
  readonly expected: readonly ExpectedJob[];
}

export interface ExpectedJob {
  readonly job: string;
  readonly via: string;
  readonly estimatedFinishAt: number | null;
  readonly expected: readonly ExpectedJob[];
}

export interface TraceResponse {
  readonly source: string;
  readonly version: string;
  readonly nodes: readonly TraceNode[];
}

export interface ArtifactListing {
  readonly files: readonly ArtifactFile[];
}

/** `data` of an `/api/events` message (`event: build.<type>`). */
export interface BuildEvent {
  readonly type: 'queued' | 'started' | 'finished' | 'superseded' | 'cancelled' | 'skipped';
  readonly build: Build;
}
