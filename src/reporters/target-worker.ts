import type { Logger } from 'pino';
import { SerialLoop } from '../async/serial-loop.js';
import type { DeliveryPort, DeliveryRecord, OutboxPort } from '../store/ports.js';
import type { EventFactory } from './event-factory.js';
import { backoffDelay, type Backoff } from '../core/backoff.js';
import type { OutgoingEvent, SingleSender, Sender, StreamSender } from './sender.js';

export interface TargetWorkerDeps {
  readonly outbox: OutboxPort;
  readonly deliveries: DeliveryPort;
  readonly events: EventFactory;
  readonly logger: Logger;
  readonly now: () => number;
  readonly random: () => number;
  /** Between attempts of one HTTP delivery. */
  readonly retry: Backoff;
  /** Between failed batches of a stream target (broker away). */
  readonly reconnect: Backoff;
  readonly batchSize: number;
  /**
   * This target is done with an outbox entry: sent (`ok`), not wanted by it (`ok`), or given up
   * (`ok` false, a dead delivery). Called after the cursor moved past it (the `delivery` SLO).
   */
  readonly onDone?: (
    entry: { readonly id: number; readonly createdAt: number },
    ok: boolean,
  ) => void;
}

/**
 * Delivers the outbox to one report target, in outbox order, at least once. Lifecycle: `wake()`
 * any number of times (safe while running: one more pass), `stop()` once.
 *
 * - Stream targets (AMQP) publish batches after the cursor; the cursor moves to the last
 *   confirmed event. A failed batch is sent again from the first unconfirmed one after a backoff.
 * - Single targets (HTTP) deliver one event at a time: the head is retried with backoff and
 *   jitter until it succeeds or its attempts run out (dead), then the cursor moves on. The state
 *   of each delivery is stored, so a restart continues the count. Dead deliveries retried by hand
 *   (`pending` below the cursor) are tried alongside, without holding up the head.
 *
 * Each target has its own worker and timers, so a slow or dead target never delays another.
 */
export class TargetWorker {
  private readonly loop: SerialLoop;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private timerAt = Infinity;
  private cursor: number;
  private failures = 0;
  /**
   * A stream target's next attempt after a failure. Every wake before it (the dispatcher's
   * safety-net poll every 5 s, each build's bus wake) only re-arms the timer: retrying on those
   * made the broker see attempts every few seconds while the log said `retryInMs` 28000.
   */
  private streamRetryAt = 0;
  private busy = false;

  constructor(
    readonly target: string,
    readonly description: string,
    private readonly sender: Sender,
    startCursor: number,
    private readonly deps: TargetWorkerDeps,
  ) {
    this.cursor = startCursor;
    this.loop = new SerialLoop(
      () => this.pass(),
      (err) => deps.logger.error({ err, target }, 'report delivery pass failed'),
    );
  }

  /** Last outbox id this target is done with. */
  get position(): number {
    return this.cursor;
  }

  /** True while a pass runs (tests, `drained()`). */
  get working(): boolean {
    return this.busy;
  }

  wake(): void {
    this.loop.wake();
  }

  /** Aborts requests in flight, waits for the pass in hand to end, closes the sender. */
  async stop(): Promise<void> {
    this.abort.abort();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.loop.stop();
    await this.sender.close().catch(() => undefined);
  }

  private async pass(): Promise<void> {
    if (this.abort.signal.aborted) return;
    this.busy = true;
    try {
      if (this.sender.mode === 'stream') await this.passStream(this.sender);
      else await this.passSingle(this.sender);
    } finally {
      this.busy = false;
    }
  }

  /** Wakes at `at` unless an earlier wake is already set. */
  private wakeAt(at: number): void {
    if (this.abort.signal.aborted) return;
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerAt = Infinity;
        this.wake();
      },
      Math.max(0, at - this.deps.now()),
    );
  }

  // ---- stream (AMQP) ------------------------------------------------------------------------

  private async passStream(sender: StreamSender): Promise<void> {
    const { deps } = this;
    if (this.streamRetryAt > deps.now()) {
      this.wakeAt(this.streamRetryAt);
      return;
    }
    for (;;) {
      const records = await deps.outbox.outboxEntriesSince(this.cursor, deps.batchSize);
      if (records.length === 0) return;
      const events = await Promise.all(records.map((r) => deps.events.make(r)));
      let sent = 0;
      let error: string | null = null;
      try {
        sent = await sender.sendBatch(events, this.abort.signal);
        if (sent < events.length) error = 'not every message was confirmed';
      } catch (err) {
        error = err instanceof Error ? err.message : String(err);
      }
      if (sent > 0) {
        const last = events[sent - 1];
        if (last) {
          this.cursor = last.record.id;
          await deps.deliveries.advanceCursor(this.target, this.cursor, deps.now());
          for (const e of events.slice(0, sent)) deps.onDone?.(e.record, true);
        }
      }
      if (error !== null) {
        if (this.abort.signal.aborted) return;
        this.failures += 1;
        const delay = backoffDelay(this.failures, deps.reconnect, deps.random);
        this.streamRetryAt = deps.now() + delay;
        deps.logger.warn(
          { target: this.target, err: error, retryInMs: delay, waiting: records.length - sent },
          'report target unreachable; events wait in the outbox',
        );
        await deps.deliveries.setCursorError(this.target, error, deps.now());
        this.wakeAt(this.streamRetryAt);
        return;
      }
      this.failures = 0;
      this.streamRetryAt = 0;
      if (records.length < deps.batchSize) return;
    }
  }

  // ---- single (HTTP) ------------------------------------------------------------------------

  private async passSingle(sender: SingleSender): Promise<void> {
    const { deps } = this;
    await this.manualRetries(sender);
    for (;;) {
      const records = await deps.outbox.outboxEntriesSince(this.cursor, deps.batchSize);
      for (const r of records) {
        if (this.abort.signal.aborted) return;
        const e = await deps.events.make(r);
        if (!sender.wants(e)) {
          this.cursor = r.id;
          await deps.deliveries.advanceCursor(this.target, r.id, deps.now());
          deps.onDone?.(r, true);
          continue;
        }
        const d = await deps.deliveries.openDelivery(r.id, this.target, deps.now());
        if (d.state !== 'pending') {
          this.cursor = r.id;
          await deps.deliveries.advanceCursor(this.target, r.id, deps.now());
          deps.onDone?.(r, d.state === 'delivered');
          continue;
        }
        if (d.nextAttemptAt !== null && d.nextAttemptAt > deps.now()) {
          this.wakeAt(d.nextAttemptAt); // the head waits for its backoff: order is kept
          return;
        }
        const done = await this.attempt(sender, e, d, true);
        if (!done) return;
      }
      if (records.length < deps.batchSize) break;
    }
    const next = await deps.deliveries.nextRetryAt(this.target);
    if (next !== null) this.wakeAt(next);
  }

  /** Dead deliveries someone asked to retry: one attempt each per pass; never block the head. */
  private async manualRetries(sender: SingleSender): Promise<void> {
    const { deps } = this;
    const due = await deps.deliveries.dueRetries(this.target, deps.now(), 20);
    for (const d of due) {
      if (this.abort.signal.aborted) return;
      const [r] = await deps.outbox.outboxEntriesSince(d.outboxId - 1, 1);
      if (r?.id !== d.outboxId) {
        await deps.deliveries.recordAttempt(
          d.id,
          { state: 'dead', error: 'the outbox row is gone' },
          null,
          deps.now(),
        );
        continue;
      }
      await this.attempt(sender, await deps.events.make(r), d, false);
    }
  }

  /**
   * One attempt of `d`; records the outcome (moving the cursor with it for the head).
   * Returns true when the delivery is finished (delivered or dead).
   */
  private async attempt(
    sender: SingleSender,
    e: OutgoingEvent,
    d: DeliveryRecord,
    head: boolean,
  ): Promise<boolean> {
    const { deps } = this;
    const attempt = d.attempts + 1;
    const outcome = await sender.send(e, { id: d.id, attempt }, this.abort.signal);
    if (this.abort.signal.aborted && !outcome.ok) return false;
    const advance = head ? { target: this.target, outboxId: e.record.id } : null;
    const now = deps.now();
    if (outcome.ok) {
      await deps.deliveries.recordAttempt(d.id, { state: 'delivered' }, advance, now);
      if (head) {
        this.cursor = e.record.id;
        deps.onDone?.(e.record, true);
      }
      return true;
    }
    if (!outcome.retryable || attempt >= sender.maxAttempts) {
      const error = outcome.retryable
        ? `${outcome.error} (gave up after ${attempt} attempts)`
        : outcome.error;
      deps.logger.warn(
        {
          target: this.target,
          delivery: d.id,
          ...(e.kind === 'build' ? { build: e.record.buildId } : { event: e.event.id }),
          err: error,
        },
        'delivery dead: `nightless deliveries --retry` sends it again',
      );
      await deps.deliveries.recordAttempt(d.id, { state: 'dead', error }, advance, now);
      if (head) {
        this.cursor = e.record.id;
        deps.onDone?.(e.record, false);
      }
      return true;
    }
    const retryInMs = backoffDelay(attempt, deps.retry, deps.random);
    const nextAttemptAt = now + retryInMs;
    deps.logger.info(
      {
        target: this.target,
        delivery: d.id,
        attempt,
        err: outcome.error,
        retryInMs,
        nextAttemptAt,
      },
      'delivery failed; retrying',
    );
    await deps.deliveries.recordAttempt(
      d.id,
      { state: 'pending', error: outcome.error, nextAttemptAt },
      null,
      now,
    );
    this.wakeAt(nextAttemptAt);
    return false;
  }
}
