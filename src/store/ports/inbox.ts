import type { RequestFacts } from '../../core/change-request.js';
import type { EventOrigin, PinnedInput } from '../../core/build.js';
import type { JobName, SourceName } from '../../core/pipeline.js';

export type NewEvent =
  | {
      readonly kind: 'source';
      readonly source: SourceName;
      readonly version: string;
      readonly ref: string | null;
      readonly origin: EventOrigin;
      readonly deliveryId: string | null;
      readonly changedPaths: readonly string[] | null;
      readonly producedBy: number | null;
      readonly receivedAt: number;
      /** Change request events (ref `pr/<n>`): target branch and whether it was closed. */
      readonly request?: RequestFacts;
    }
  | {
      readonly kind: 'trigger';
      readonly job: JobName;
      readonly force: boolean;
      readonly by: string | null;
      readonly pins?: readonly PinnedInput[];
      readonly rebuildOf?: number | null;
      readonly receivedAt: number;
    }
  | { readonly kind: 'reconcile'; readonly receivedAt: number }
  | { readonly kind: 'settle'; readonly job: JobName; readonly receivedAt: number };

export interface AppendedEvent {
  readonly id: number;
  /** The delivery id was seen before: nothing was stored, `id` is the first delivery's event. */
  readonly redelivery: boolean;
}

/**
 * Ingest writes events here before acknowledging them; the scheduler drains it. A delivery id is
 * stored once however many writers append it at the same time (connections, processes): one gets
 * `redelivery: false`, the others the same `id` with `redelivery: true`.
 */
export interface InboxPort {
  /** Durable when it resolves. */
  appendEvent(event: NewEvent): Promise<AppendedEvent>;
  /** Many events in one transaction (bus bursts, benchmarks). */
  appendEvents(events: readonly NewEvent[]): Promise<AppendedEvent[]>;
}
