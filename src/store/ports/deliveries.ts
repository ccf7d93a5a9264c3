import type { OutboxType } from './outbox.js';

export type DeliveryState = 'pending' | 'delivered' | 'dead';

/** One outbox row's delivery to one report target (HTTP targets: webhooks, commit statuses). */
export interface DeliveryRecord {
  readonly id: number;
  readonly outboxId: number;
  readonly target: string;
  readonly state: DeliveryState;
  readonly attempts: number;
  /** When a `pending` delivery is tried next; `null` once delivered or dead. */
  readonly nextAttemptAt: number | null;
  readonly lastError: string | null;
  readonly createdAt: number;
  readonly deliveredAt: number | null;
  /** From the outbox row. */
  readonly buildId: number;
  readonly type: OutboxType;
}

/** How far one report target got through the outbox. */
export interface ReportCursor {
  readonly target: string;
  readonly kind: string;
  readonly lastOutboxId: number;
  /** Why the target is not progressing (broker unreachable), `null` when it is. */
  readonly lastError: string | null;
  readonly updatedAt: number;
}

/**
 * Delivery state of the reporters (reporters/dispatcher.ts). Each target reads the outbox after
 * its cursor, in order; the cursor only moves forward, and only after a delivery succeeded or was
 * given up (dead). Deliveries at or below the cursor that are `pending` are manual retries.
 */
export interface DeliveryPort {
  /** The target's cursor; a new target starts after `startAfter` (no history replay). */
  ensureCursor(target: string, kind: string, startAfter: number, now: number): Promise<number>;
  /** Moves the cursor to `outboxId` (never backwards) and clears its error. */
  advanceCursor(target: string, outboxId: number, now: number): Promise<void>;
  setCursorError(target: string, error: string | null, now: number): Promise<void>;
  listCursors(): Promise<ReportCursor[]>;
  /** The delivery of `outboxId` to `target`, created `pending` (0 attempts) on first call. */
  openDelivery(outboxId: number, target: string, now: number): Promise<DeliveryRecord>;
  /**
   * Records one attempt's outcome in one transaction: `delivered`, `pending` again (a retry at
   * `nextAttemptAt`) or `dead`. With `advanceTo`, the target's cursor moves in the same transaction.
   */
  recordAttempt(
    id: number,
    outcome:
      | { readonly state: 'delivered' }
      | { readonly state: 'pending'; readonly error: string; readonly nextAttemptAt: number }
      | { readonly state: 'dead'; readonly error: string },
    advanceTo: { readonly target: string; readonly outboxId: number } | null,
    now: number,
  ): Promise<void>;
  /** Due `pending` deliveries at or below the target's cursor (manual retries), oldest first. */
  dueRetries(target: string, now: number, limit: number): Promise<DeliveryRecord[]>;
  /** Earliest `next_attempt_at` of the target's manual retries, `null` when none. */
  nextRetryAt(target: string): Promise<number | null>;
  listDeliveries(filter: {
    readonly state?: DeliveryState;
    readonly target?: string;
    readonly buildId?: number;
    readonly before?: number;
    readonly limit: number;
  }): Promise<DeliveryRecord[]>;
  getDelivery(id: number): Promise<DeliveryRecord | null>;
  /** A `dead` delivery becomes `pending`, attempts reset, due `now`; other states are left alone. */
  retryDelivery(id: number, now: number): Promise<DeliveryRecord | null>;
}
