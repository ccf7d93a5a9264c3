import type { Build } from '../../core/build.js';
import type { SloAlert, SloOutboxType } from '../../core/slo/slo-alert.js';

export type OutboxType = 'queued' | 'started' | 'finished' | 'superseded' | 'cancelled' | 'skipped';

/** One lifecycle change, written in the transaction that made it; delivered by reporters. */
export interface OutboxRecord {
  readonly id: number;
  readonly buildId: number;
  readonly type: OutboxType;
  /** The build as it was right after the change. */
  readonly build: Build;
  readonly createdAt: number;
}

/** An SLO alert change, written to the outbox so report targets deliver it like build events. */
export interface SloOutboxRecord {
  readonly id: number;
  readonly type: SloOutboxType;
  readonly alert: SloAlert;
  readonly createdAt: number;
}

/** Any outbox row: what report targets deliver, in id order. */
export type OutboxEntry = OutboxRecord | SloOutboxRecord;

export interface OutboxPort {
  /** Build lifecycle rows after `afterId` (SLO rows skipped): the relay, live views. */
  outboxSince(afterId: number, limit: number): Promise<OutboxRecord[]>;
  /** Every row after `afterId`, build and SLO alike: what report targets deliver. */
  outboxEntriesSince(afterId: number, limit: number): Promise<OutboxEntry[]>;
  /** Writes an SLO alert change as an outbox row; its id. */
  appendSloAlert(alert: SloAlert, now: number): Promise<number>;
}
