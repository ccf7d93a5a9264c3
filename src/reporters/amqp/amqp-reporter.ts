import { sendsBeyondStatus } from '../cloudevent.js';
import type { ChannelModel, ConfirmChannel } from 'amqplib';
import type { Logger } from 'pino';
import type { ReportDef } from '../../core/pipeline.js';
import type { OutgoingEvent, StreamSender } from '../sender.js';

type AmqpDef = Extract<ReportDef, { kind: 'amqp' }>;

export interface AmqpReporterOptions {
  /** Shown by `rabbitmqctl list_connections` (client_properties.connection_name). */
  readonly connectionName: string;
  /** TCP connect plus the AMQP handshake. */
  readonly connectTimeoutMs: number;
  /** A batch whose confirms don't all arrive within this fails (and the connection is dropped). */
  readonly confirmTimeoutMs: number;
  readonly logger: Logger;
}

/**
 * Publishes events to a topic exchange with routing key `<pipeline>.<job>.<type>`: persistent
 * messages on a confirm channel, the CloudEvent as the body (`application/cloudevents+json`) and
 * its id as the message id. `sendBatch` resolves with the number of messages, from the first,
 * that the broker confirmed; the dispatcher moves the cursor only that far.
 *
 * The connection is opened on first use and again after it is lost (the dispatcher's backoff
 * paces the attempts). The exchange is declared topic/durable when it does not exist yet.
 */
export class AmqpReporter implements StreamSender {
  readonly mode = 'stream';
  private model: ChannelModel | null = null;
  private channel: ConfirmChannel | null = null;
  private opening: Promise<ConfirmChannel> | null = null;

  constructor(
    private readonly def: AmqpDef,
    private readonly opts: AmqpReporterOptions,
  ) {}

  async sendBatch(events: readonly OutgoingEvent[], signal: AbortSignal): Promise<number> {
    if (signal.aborted) throw new Error('aborted: nightless is stopping');
    const ch = await this.open();
    const confirmed: Array<Promise<boolean>> = [];
    for (const e of events) {
      // An unapproved fork's builds are not announced on the bus (commit status only).
      if (e.kind === 'build' && !sendsBeyondStatus(e)) {
        confirmed.push(Promise.resolve(true));
        continue;
      }
      confirmed.push(
        new Promise<boolean>((resolve) => {
          const ok = ch.publish(
            this.def.exchange,
            e.routingKey,
            Buffer.from(e.body),
            {
              persistent: true,
              contentType: 'application/cloudevents+json',
              contentEncoding: 'utf-8',
              messageId: e.event.id,
              type: e.event.type,
              timestamp: Math.floor(e.record.createdAt / 1000),
              appId: 'nightless',
            },
            (err: unknown) => resolve(err === null || err === undefined),
          );
          void ok; // the write buffer only fills for huge batches; confirms pace us anyway
        }),
      );
    }
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.opts.confirmTimeoutMs);
    });
    const results = await Promise.race([Promise.all(confirmed), timeout]);
    clearTimeout(timer);
    if (results === 'timeout') {
      this.drop();
      throw new Error(
        `no publisher confirm within ${this.opts.confirmTimeoutMs} ms from ${this.where()}`,
      );
    }
    let n = 0;
    while (n < results.length && results[n]) n++;
    if (n === 0) throw new Error(`the broker did not confirm the messages (${this.where()})`);
    return n;
  }

  async close(): Promise<void> {
    const model = this.model;
    this.model = null;
    this.channel = null;
    await model?.close().catch(() => undefined);
  }

  private open(): Promise<ConfirmChannel> {
    if (this.channel) return Promise.resolve(this.channel);
    this.opening ??= this.connect().finally(() => {
      this.opening = null;
    });
    return this.opening;
  }

  private async connect(): Promise<ConfirmChannel> {
    const timeoutMs = this.opts.connectTimeoutMs;
    // Loaded on the first connection: a pipeline without AMQP never pays for amqplib.
    const { connect } = await import('amqplib');
    const connecting = connect(this.def.url, {
      timeout: timeoutMs,
      clientProperties: { connection_name: this.opts.connectionName },
    });
    // The socket timeout covers TCP; this one also covers a broker that accepts and never talks.
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`amqp connect timeout after ${timeoutMs} ms to ${this.where()}`)),
        timeoutMs,
      );
    });
    let model: ChannelModel;
    try {
      model = await Promise.race([connecting, timeout]);
    } catch (err) {
      connecting.then((m) => m.close()).catch(() => undefined);
      throw err instanceof Error ? new Error(`${err.message} (${this.where()})`) : err;
    } finally {
      clearTimeout(timer);
    }
    model.on('error', (err: Error) =>
      this.opts.logger.warn(
        { err: err.message, broker: this.where() },
        'amqp report connection error',
      ),
    );
    model.on('close', () => {
      if (this.model === model) {
        this.model = null;
        this.channel = null;
      }
    });
    try {
      await this.declare(model);
      const ch = await model.createConfirmChannel();
      ch.on('error', (err: Error) =>
        this.opts.logger.warn({ err: err.message }, 'amqp report channel error'),
      );
      ch.on('close', () => {
        if (this.channel === ch) this.channel = null;
      });
      this.model = model;
      this.channel = ch;
      return ch;
    } catch (err) {
      await model.close().catch(() => undefined);
      throw err;
    }
  }

  /** Checks the exchange on a throwaway channel (a failed check closes it); creates it if absent. */
  private async declare(model: ChannelModel): Promise<void> {
    const probe = await model.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.checkExchange(this.def.exchange);
      await probe.close().catch(() => undefined);
    } catch {
      const ch = await model.createChannel();
      await ch.assertExchange(this.def.exchange, 'topic', { durable: true });
      await ch.close();
    }
  }

  /** Drops a connection that stopped answering; the next batch reconnects. */
  private drop(): void {
    const model = this.model;
    this.model = null;
    this.channel = null;
    if (model) {
      const conn = (model as unknown as { connection?: { stream?: { destroy(): void } } })
        .connection;
      conn?.stream?.destroy();
      model.close().catch(() => undefined);
    }
  }

  private where(): string {
    try {
      const u = new URL(this.def.url);
      return `${u.hostname}:${u.port || (u.protocol === 'amqps:' ? 5671 : 5672)}`;
    } catch {
      return 'the broker';
    }
  }
}
