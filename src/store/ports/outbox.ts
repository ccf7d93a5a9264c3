import type { Build } from '../../core/build.js';

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

export interface OutboxPort {
  outboxSince(afterId: number, limit: number): Promise<OutboxRecord[]>;
}
