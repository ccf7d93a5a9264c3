import { randomUUID } from 'node:crypto';
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import type { Logger } from 'pino';
import { RECONNECT_BACKOFF, backoffDelay, type Backoff } from '../../core/backoff.js';
import { MemoryBus } from '../memory/memory-bus.js';
import type { Bus, BusMessages, Topic } from '../port.js';
import { decodeEnvelope, encodeEnvelope } from './envelope.js';
import { brokerAddress, openWithTimeout } from './open-connection.js';

/** The exchange every replica of every installation publishes to; routing keys carry the scope. */
export const BUS_EXCHANGE = 'nightless.bus';

export interface AmqpBusOptions {
  /** `amqp://user:pass@host:port/vhost`; the credentials never reach a log line. */
  readonly url: string;
  /**
   * What separates installations sharing a broker: the installation id (replicas of one
   * installation share it). Letters, digits, `_` and `-` only: it is a routing-key word.
   */
  readonly scope: string;
  /** This replica, shown by `rabbitmqctl list_connections` (connection_name). */
  readonly name: string;
  readonly logger: Logger;
  /** TCP connect plus the AMQP handshake (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Broker heartbeat in seconds (default 10): a broker that vanishes is noticed within ~2×. */
  readonly heartbeatSeconds?: number;
  readonly backoff?: Backoff;
  readonly random?: () => number;
}

type State = 'connecting' | 'up' | 'waiting' | 'closed';

/**
 * The bus between server replicas, over a RabbitMQ topic exchange `nightless.bus`: routing key
 * `<scope>.<topic>`, one exclusive auto-delete queue per bus (replica) bound to `<scope>.*`.
 *
 * Delivery contract: a message is delivered to this process's subscribers at once (synchronously,
 * as the in-process bus does), and to other replicas' subscribers through the broker, each once
 * and in the publisher's order while the connection holds. The bus only wakes — the database is
 * the record — so it favours never blocking over never losing: messages are transient, unacked
 * (`noAck`), published without confirms, and dropped while the broker is unreachable or the
 * socket's write buffer is full; replicas poll the database on a timer to cover the gap
 * (docs/deploy.md). After a lost connection it reconnects with capped exponential backoff and
 * jitter, with a new queue; messages published meanwhile are not replayed.
 */
export class AmqpBus implements Bus {
  private readonly local = new MemoryBus();
  private readonly origin = randomUUID();
  private state: State = 'connecting';
  private model: ChannelModel | null = null;
  private channel: Channel | null = null;
  /** The socket's buffer is full: drop until it drains rather than queue without bound. */
  private blocked = false;
  private session = 0;
  private failures = 0;
  private outageSince: number | null = null;
  private dropped = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly waiters = new Set<() => void>();

  private constructor(private readonly opts: AmqpBusOptions) {
    if (!/^[A-Za-z0-9_-]+$/.test(opts.scope))
      throw new Error(`bus scope ${JSON.stringify(opts.scope)}: letters, digits, _ and - only`);
  }

  /** Starts connecting in the background; the bus works locally at once. */
  static start(opts: AmqpBusOptions): AmqpBus {
    const bus = new AmqpBus(opts);
    void bus.connectOnce();
    return bus;
  }

  /** Whether messages reach the other replicas now (consuming and publishing). */
  get connected(): boolean {
    return this.state === 'up';
  }

  /** Resolves once connected; rejects after `timeoutMs` saying where it tried (start-up, tests). */
  ready(timeoutMs: number): Promise<void> {
    if (this.state === 'up') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.delete(done);
        reject(new Error(`bus not connected to ${this.where()} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.add(done);
    });
  }

  publish<T extends Topic>(topic: T, message: BusMessages[T]): void {
    if (this.state === 'closed') return;
    this.local.publish(topic, message);
    const ch = this.channel;
    if (ch === null || this.blocked) {
      this.dropped += 1;
      return;
    }
    try {
      const body = encodeEnvelope(this.origin, topic, message);
      const more = ch.publish(BUS_EXCHANGE, `${this.opts.scope}.${topic}`, body, {
        contentType: 'application/json',
        persistent: false,
        appId: 'nightless',
      });
      if (!more) {
        this.blocked = true;
        ch.once('drain', () => {
          this.blocked = false;
        });
      }
    } catch {
      // The channel closed under us; its close handler reconnects. The database is the record.
      this.dropped += 1;
    }
  }

  subscribe<T extends Topic>(topic: T, handler: (message: BusMessages[T]) => void): () => void {
    return this.local.subscribe(topic, handler);
  }

  /** Stops delivering, closes the connection (its queue goes with it). Safe to call twice. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.session += 1;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.local.close();
    const model = this.model;
    this.model = null;
    this.channel = null;
    await model?.close().catch(() => undefined);
  }

  private async connectOnce(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const session = ++this.session;
    let settingUp = true;
    let reason: string | null = null;
    try {
      const model = await openWithTimeout(this.opts.url, {
        timeoutMs: this.opts.connectTimeoutMs ?? 5_000,
        heartbeatSeconds: this.opts.heartbeatSeconds ?? 10,
        connectionName: `nightless bus ${this.opts.name}`,
      });
      if (session !== this.session) {
        await model.close().catch(() => undefined);
        return;
      }
      this.model = model;
      model.on('error', (err: Error) => {
        reason = `connection error: ${err.message}`;
      });
      model.on('close', () => {
        if (!settingUp) this.lost(session, reason ?? 'connection closed');
      });
      const ch = await model.createChannel();
      ch.on('error', (err: Error) => {
        reason = `channel error: ${err.message}`;
      });
      ch.on('close', () => {
        if (!settingUp) this.lost(session, reason ?? 'channel closed');
      });
      await ch.assertExchange(BUS_EXCHANGE, 'topic', { durable: true });
      const { queue } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
      await ch.bindQueue(queue, BUS_EXCHANGE, `${this.opts.scope}.*`);
      await ch.consume(queue, (msg) => this.received(session, msg), { noAck: true });
      settingUp = false;
      if (session !== this.session) {
        await model.close().catch(() => undefined);
        return;
      }
      this.channel = ch;
      this.blocked = false;
      this.state = 'up';
      this.connectedNow();
    } catch (err) {
      settingUp = false;
      this.lost(session, reason ?? (err instanceof Error ? err.message : String(err)));
    }
  }

  private received(session: number, msg: ConsumeMessage | null): void {
    if (msg === null) {
      this.lost(session, 'consumer cancelled by the broker');
      return;
    }
    if (session !== this.session) return;
    const envelope = decodeEnvelope(msg.content);
    if ('invalid' in envelope) {
      this.opts.logger.debug(
        { reason: envelope.invalid, routingKey: msg.fields.routingKey },
        'bus message ignored',
      );
      return;
    }
    if (envelope.origin === this.origin) return; // delivered locally when published
    this.local.publish(envelope.topic, envelope.message);
  }

  /** Ends the session and retries after backoff; the first failure of an outage is logged. */
  private lost(session: number, reason: string): void {
    if (session !== this.session || this.state === 'closed' || this.state === 'waiting') return;
    this.session += 1;
    const model = this.model;
    this.model = null;
    this.channel = null;
    model?.close().catch(() => undefined);
    this.failures += 1;
    const delay = backoffDelay(
      this.failures,
      this.opts.backoff ?? RECONNECT_BACKOFF,
      this.opts.random ?? Math.random,
    );
    const line = { broker: this.where(), reason, retryInMs: delay };
    if (this.outageSince === null) {
      this.outageSince = Date.now();
      this.opts.logger.error(
        line,
        'bus to other replicas down; they learn of work by polling the database until it is back',
      );
    } else {
      this.opts.logger.debug({ ...line, failures: this.failures }, 'bus still down');
    }
    this.state = 'waiting';
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.connectOnce();
    }, delay);
    this.timer.unref();
  }

  private connectedNow(): void {
    if (this.outageSince !== null) {
      this.opts.logger.info(
        {
          broker: this.where(),
          failures: this.failures,
          downForMs: Date.now() - this.outageSince,
          droppedMessages: this.dropped,
        },
        'bus to other replicas back',
      );
    }
    this.outageSince = null;
    this.failures = 0;
    this.dropped = 0;
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  private where(): string {
    return brokerAddress(this.opts.url);
  }
}
