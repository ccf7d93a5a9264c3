import type { SourceName } from '../../core/pipeline.js';
import type { SourceHead } from '../../core/scheduler/index.js';

export interface SourceStatus {
  readonly name: SourceName;
  readonly kind: string;
  readonly url: string | null;
  readonly heads: ReadonlyArray<{
    readonly ref: string | null;
    readonly version: string;
    readonly at: number;
    readonly origin: string;
  }>;
  readonly nextCheckAt: number | null;
  readonly lastCheckAt: number | null;
  readonly lastCheckOk: boolean | null;
  readonly lastError: string | null;
  readonly pollFailures: number;
  readonly missedEvents: number;
  readonly eventsReceived: number;
  readonly lastEventAt: number | null;
}

export interface PollRecord {
  readonly at: number;
  readonly ok: boolean;
  readonly error: string | null;
  readonly nextCheckAt: number | null;
  readonly missed: boolean;
}

/** What the fallback poller and the pipeline loader keep per source. */
export interface SourcePort {
  /** Makes the table match the pipeline's sources (adds new ones, keeps history of removed ones). */
  syncSources(
    sources: ReadonlyArray<{
      readonly name: SourceName;
      readonly kind: string;
      readonly url: string | null;
    }>,
  ): Promise<void>;
  recordPoll(source: SourceName, poll: PollRecord): Promise<void>;
  setNextCheck(source: SourceName, at: number | null): Promise<void>;
  /** Current head of every ref of a source, as stored. */
  sourceHeads(source: SourceName): Promise<SourceHead[]>;
}
