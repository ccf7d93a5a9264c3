import type { Build } from '../core/build.js';
import type { Pipeline } from '../core/pipeline.js';
import type { OutboxRecord, SloOutboxRecord } from '../store/ports.js';
import type { BuildCloudEvent } from './cloudevent.js';
import type { SloCloudEvent } from './slo-events.js';

/** One outbox row ready to send: the event and the exact body bytes (what webhooks sign). */
export type OutgoingEvent =
  | (OutgoingCommon & {
      readonly kind: 'build';
      readonly record: OutboxRecord;
      readonly event: BuildCloudEvent;
    })
  | (OutgoingCommon & {
      readonly kind: 'slo';
      readonly record: SloOutboxRecord;
      readonly event: SloCloudEvent;
    });

interface OutgoingCommon {
  /** `JSON.stringify(event)`, built once and shared by every target. */
  readonly body: string;
  /** `<pipeline>.<job>.<type>`; `<pipeline>.slo.<burning|recovered>` for SLO alerts. */
  readonly routingKey: string;
}

/** What an attempt came to. `retryable: false` makes the delivery dead at once (4xx, redirects). */
export type SendOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly error: string; readonly retryable: boolean };

/** What senders may look up besides the event. */
export interface SenderContext {
  readonly pipeline: () => Pipeline;
  readonly getBuild: (id: number) => Promise<Build | null>;
}

/**
 * A target that delivers one event per request; the dispatcher retries it with backoff and marks
 * it dead after `maxAttempts` (webhooks, commit statuses). `send` resolves, never rejects.
 */
export interface SingleSender {
  readonly mode: 'single';
  readonly maxAttempts: number;
  /** False when the event means nothing to this target (a commit status for a build without git). */
  wants(e: OutgoingEvent): boolean;
  send(
    e: OutgoingEvent,
    delivery: { readonly id: number; readonly attempt: number },
    signal: AbortSignal,
  ): Promise<SendOutcome>;
  close(): Promise<void>;
}

/**
 * A target that publishes a batch in order and reports how many of them, from the first, were
 * confirmed (AMQP publisher confirms). It rejects when not even the first was (broker away); the
 * dispatcher then reconnects with backoff and sends again from the first unconfirmed one.
 */
export interface StreamSender {
  readonly mode: 'stream';
  sendBatch(events: readonly OutgoingEvent[], signal: AbortSignal): Promise<number>;
  close(): Promise<void>;
}

export type Sender = SingleSender | StreamSender;
