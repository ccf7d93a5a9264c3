import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import type { AmqpSource, SourceName } from '../../core/pipeline.js';
import type { NewEvent } from '../../store/ports.js';
import { RECONNECT_BACKOFF, backoffDelay, type Backoff } from '../../core/backoff.js';
import {
  QueueMismatchError,
  declareQueue,
  openConnection,
  warnAboutLegacyQueue,
} from './broker-setup.js';
import { messageReader, type MessageVerdict } from './message-version.js';
import { legacyQueueName, queueName } from './queue-name.js';

export interface AmqpConsumerDeps {
  /** Durable once resolved (the inbox write); messages are acked only after that. */
  readonly ingest: (events: readonly NewEvent[]) => Promise<unknown>;
  /** The installation's id (`store/installation-id.ts`): part of the queue name. */
  readonly installationId: string;
  /** Pipeline name: only to point at a queue named the old way (`legacyQueueName`). */
  readonly pipelineName: string;
  readonly logger: Logger;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly backoff?: Backoff;
  /** TCP connect and AMQP handshake, each (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Unacked messages the broker may send at once (default 100); also the largest inbox batch. */
  readonly prefetch?: number;
  /** A message was acked without an event (metrics): `not-for-us` or `malformed`. */
  readonly onMessage?: (
    source: SourceName,
    outcome: 'version' | 'not-for-us' | 'malformed',
  ) => void;
}

/** What ended a session: reaching the broker, or writing the inbox (messages are redelivered). */
export type FailureKind = 'connection' | 'inbox';

interface FailureStreak {
  readonly since: number;
  failures: number;
  kind: FailureKind;
}

export type ConsumerState = 'idle' | 'connecting' | 'consuming' | 'waiting' | 'stopped';

export interface ConsumerStats {
  accepted: number;
  notForUs: number;
  malformed: number;
  /** Sessions lost after they were consuming (broker restart, closed connection). */
  disconnects: number;
  /** Connections opened to the broker (each session opens one). */
  connections: number;
  lastError: string | null;
}

/**
 * Consumes one amqp source's queue. Lifecycle: `start()` once → connecting ⇄ consuming, with
 * `waiting` (capped exponential backoff + jitter) between failed sessions → `stop()`.
 *
 * Delivery contract: a message is acked only after the inbox write that carries its event has
 * resolved; if the write fails, the session is dropped and the broker redelivers. Messages are
 * processed in arrival order in batches (one inbox transaction per batch, up to `prefetch`).
 * Redeliveries are harmless: the AMQP message-id becomes the event's delivery id, and a known
 * version is a duplicate for the scheduler anyway. Malformed messages never stop the consumer.
 */
export class AmqpSourceConsumer {
  readonly stats: ConsumerStats = {
    accepted: 0,
    notForUs: 0,
    malformed: 0,
    disconnects: 0,
    connections: 0,
    lastError: null,
  };
  private currentState: ConsumerState = 'idle';
  private model: ChannelModel | null = null;
  /** The consuming channel of the current session. */
  private channel: Channel | null = null;
  /**
   * The failure streak in progress: sessions that ended in failure since the consumer last
   * worked. It ends when the failing part works again — a subscribe for a connection failure, an
   * inbox write for an inbox failure (a subscribe proves nothing about a locked database, so
   * resetting there would reconnect at the first backoff step forever).
   */
  private streak: FailureStreak | null = null;
  private timer: NodeJS.Timeout | null = null;
  private pending: ConsumeMessage[] = [];
  private draining: Promise<void> | null = null;
  private session = 0;
  private readonly read: (content: Buffer) => MessageVerdict;
  private readonly waiters = new Set<() => void>();
  private legacyChecked = false;

  constructor(
    readonly source: AmqpSource,
    private readonly deps: AmqpConsumerDeps,
  ) {
    this.read = messageReader(source);
  }

  get state(): ConsumerState {
    return this.currentState;
  }

  get queue(): string {
    return queueName(this.deps.installationId, this.source.name);
  }

  /** Starts connecting in the background; safe to call twice. */
  start(): void {
    if (this.currentState !== 'idle') return;
    void this.connectOnce();
  }

  /** Resolves the next time the consumer is consuming (tests, readiness). */
  consuming(): Promise<void> {
    if (this.currentState === 'consuming') return Promise.resolve();
    return new Promise((resolve) => this.waiters.add(resolve));
  }

  /** Cancels the subscription, lets the batch in hand finish (and be acked), closes. Safe to call twice. */
  async stop(): Promise<void> {
    if (this.currentState === 'stopped') return;
    this.currentState = 'stopped';
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    await this.draining;
    await this.closeModel();
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private async connectOnce(): Promise<void> {
    if (this.currentState === 'stopped') return;
    this.currentState = 'connecting';
    const session = ++this.session;
    // The broker's reason (an `error` event) is more useful than the `close` that follows it.
    let closeReason: string | null = null;
    // While setting up, a failure surfaces as the rejected call (caught below, with the clearest
    // message); the close events that follow it must not end the session a second time first.
    let settingUp = true;
    try {
      const model = await this.open();
      this.stats.connections += 1;
      if (this.stopped() || session !== this.session) {
        await model.close().catch(() => undefined);
        return;
      }
      this.model = model;
      model.on('error', (err: Error) => {
        closeReason = `connection error: ${err.message}`;
      });
      model.on('close', () => {
        if (!settingUp) this.lost(session, closeReason ?? 'connection closed');
      });
      const ch = await model.createChannel();
      ch.on('error', (err: Error) => {
        closeReason = `channel error: ${err.message}`;
      });
      ch.on('close', () => {
        if (!settingUp) this.lost(session, closeReason ?? 'channel closed');
      });
      await this.declare(model, ch);
      await ch.prefetch(this.deps.prefetch ?? 100);
      await ch.consume(this.queue, (msg) => this.received(session, ch, msg), { noAck: false });
      settingUp = false;
      this.channel = ch;
      this.currentState = 'consuming';
      const quietly = this.streak !== null && this.streak.kind === 'inbox';
      if (this.streak?.kind === 'connection') this.recovered();
      this.deps.logger[quietly ? 'debug' : 'info'](
        { source: this.source.name, queue: this.queue },
        'amqp source consuming',
      );
      for (const w of this.waiters) w();
      this.waiters.clear();
    } catch (err) {
      settingUp = false;
      const message = err instanceof Error ? err.message : String(err);
      this.lost(session, err instanceof QueueMismatchError ? message : (closeReason ?? message));
    }
  }

  private open(): Promise<ChannelModel> {
    return openConnection(this.source.url, this.queue, this.deps.connectTimeoutMs ?? 5_000);
  }

  /** Declares this source's queue; once per consumer, warns about a queue named the old way. */
  private async declare(model: ChannelModel, ch: Channel): Promise<void> {
    await declareQueue(model, ch, this.source, this.queue);
    if (this.legacyChecked) return;
    this.legacyChecked = true;
    const legacy = legacyQueueName(this.deps.pipelineName, this.source.name);
    await warnAboutLegacyQueue(
      model,
      legacy,
      { source: this.source.name, queue: this.queue },
      this.deps.logger,
    );
  }

  private received(session: number, ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // The broker cancelled the subscription (queue deleted): start over, which re-declares it.
      this.lost(session, 'consumer cancelled by the broker');
      return;
    }
    if (session !== this.session || this.currentState === 'stopped') return;
    this.pending.push(msg);
    this.kick(session, ch);
  }

  /**
   * Starts a drain unless one runs. The check after it ends closes a lost wake-up: a drain whose
   * batches held no event finishes without awaiting anything, but `draining` is only cleared in
   * a later microtask, and amqplib delivers every message of one socket read synchronously in
   * between — those would wait, unacked, for the next delivery (hours on a quiet bus).
   */
  private kick(session: number, ch: Channel): void {
    if (this.draining !== null) return;
    this.draining = this.drain(session, ch).finally(() => {
      this.draining = null;
      if (this.pending.length > 0 && session === this.session && !this.stopped())
        this.kick(session, ch);
    });
  }

  /** Batches in arrival order: interpret, one inbox write, then one cumulative ack. */
  private async drain(session: number, ch: Channel): Promise<void> {
    while (this.pending.length > 0 && session === this.session && this.currentState !== 'stopped') {
      const batch = this.pending.splice(0, this.deps.prefetch ?? 100);
      const events: NewEvent[] = [];
      const at = (this.deps.now ?? Date.now)();
      for (const msg of batch) {
        const verdict = this.read(msg.content);
        this.deps.onMessage?.(this.source.name, verdict.kind);
        if (verdict.kind === 'version') {
          const id =
            typeof msg.properties.messageId === 'string' && msg.properties.messageId !== ''
              ? msg.properties.messageId
              : null;
          events.push({
            kind: 'source',
            source: this.source.name,
            version: verdict.version,
            ref: null,
            origin: 'bus',
            deliveryId: id === null ? null : `amqp:${this.source.name}:${id}`,
            changedPaths: null,
            producedBy: null,
            receivedAt: at,
          });
        } else if (verdict.kind === 'malformed') {
          this.stats.malformed += 1;
          this.deps.logger.warn(
            {
              source: this.source.name,
              reason: verdict.reason,
              routingKey: msg.fields.routingKey,
              bytes: msg.content.length,
            },
            'malformed amqp message acked and dropped',
          );
        } else {
          this.stats.notForUs += 1;
        }
      }
      try {
        if (events.length > 0) await this.deps.ingest(events);
      } catch (err) {
        // Not acked: dropping the session makes the broker redeliver them to the next one.
        const why = err instanceof Error ? err.message : String(err);
        this.lost(
          session,
          `inbox write failed (the messages will be redelivered): ${why}`,
          'inbox',
        );
        return;
      }
      this.stats.accepted += events.length;
      if (events.length > 0 && this.streak !== null) this.recovered();
      const last = batch[batch.length - 1];
      if (last && session === this.session) {
        try {
          ch.ack(last, true);
        } catch {
          // The channel closed meanwhile: the broker redelivers, the store dedupes.
        }
      }
    }
  }

  /** A method, not a field read, so TypeScript does not narrow it across awaits. */
  private stopped(): boolean {
    return this.currentState === 'stopped';
  }

  /**
   * Ends the session and schedules the next one after the streak's backoff. The first failure
   * of a streak is logged as an error; the rest of the streak at debug, so a broker or database
   * that stays away for an hour writes two lines (this one and {@link recovered}), not hundreds.
   */
  private lost(session: number, reason: string, kind: FailureKind = 'connection'): void {
    if (
      session !== this.session ||
      this.currentState === 'stopped' ||
      this.currentState === 'waiting'
    )
      return;
    if (this.currentState === 'consuming') this.stats.disconnects += 1;
    this.stats.lastError = reason;
    this.session += 1;
    this.pending = [];
    const model = this.model;
    this.model = null;
    this.channel = null;
    model?.close().catch(() => undefined);
    const first = this.streak === null;
    const streak: FailureStreak = this.streak ?? { since: this.clock(), failures: 0, kind };
    streak.failures += 1;
    streak.kind = kind;
    this.streak = streak;
    const delay = backoffDelay(
      streak.failures,
      this.deps.backoff ?? RECONNECT_BACKOFF,
      this.deps.random ?? Math.random,
    );
    const line = { source: this.source.name, queue: this.queue, reason, retryInMs: delay };
    if (first)
      this.deps.logger.error(line, 'amqp source failing; retrying with backoff until it works');
    else
      this.deps.logger.debug({ ...line, failures: streak.failures }, 'amqp source still failing');
    this.currentState = 'waiting';
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connectOnce();
    }, delay);
    this.timer.unref();
  }

  /** Ends the failure streak with one line saying how long it lasted. */
  private recovered(): void {
    const streak = this.streak;
    if (streak === null) return;
    this.streak = null;
    this.deps.logger.info(
      {
        source: this.source.name,
        queue: this.queue,
        failures: streak.failures,
        failingForMs: this.clock() - streak.since,
      },
      'amqp source recovered',
    );
  }

  private clock(): number {
    return (this.deps.now ?? Date.now)();
  }

  private async closeModel(): Promise<void> {
    const model = this.model;
    const channel = this.channel;
    this.model = null;
    this.channel = null;
    this.session += 1;
    // Channel first: its close-ok means the broker has processed the acks sent before it. Closing
    // only the connection can overtake acks still queued on the channel, and the broker would
    // requeue messages that are already in the inbox.
    await channel?.close().catch(() => undefined);
    await model?.close().catch(() => undefined);
  }
}
