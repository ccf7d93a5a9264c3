import type { Channel, ChannelModel } from 'amqplib';
import type { Logger } from 'pino';
import type { AmqpSource, SourceName } from '../../core/pipeline.js';

// What one session asks of the broker before it consumes (connect, declare, bind), apart from
// the consumer's lifecycle: these steps hold no state between sessions.

/** The broker refused our queue declaration: a queue of that name exists with other arguments. */
export class QueueMismatchError extends Error {
  override readonly name = 'QueueMismatchError';
}

export async function openConnection(
  url: string,
  queue: string,
  timeoutMs: number,
): Promise<ChannelModel> {
  // Loaded on the first connection: a pipeline without AMQP never pays for amqplib.
  const { connect } = await import('amqplib');
  const connecting = connect(url, {
    timeout: timeoutMs,
    clientProperties: { connection_name: `nightless ${queue}` },
  });
  // The socket timeout covers TCP; this one also covers a broker that accepts and never talks.
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`connect timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([connecting, timeout]);
  } catch (err) {
    connecting
      .then(
        (m) => m.close(),
        () => undefined,
      )
      .catch(() => undefined);
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The exchange is checked first and only created (topic, durable) when it does not exist:
 * asserting an existing exchange with another type or durability fails and closes the
 * channel, and nightless should subscribe to what producers declared, not fight them. The check
 * runs on a throwaway channel because a failed check closes its channel.
 */
export async function declareQueue(
  model: ChannelModel,
  ch: Channel,
  source: AmqpSource,
  queue: string,
): Promise<void> {
  const { exchange, routingKey } = source;
  if (exchange !== '') {
    const probe = await model.createChannel();
    probe.on('error', () => undefined);
    try {
      await probe.checkExchange(exchange);
      await probe.close().catch(() => undefined);
    } catch {
      await ch.assertExchange(exchange, 'topic', { durable: true });
    }
  }
  const expires = source.queueExpiresMs;
  try {
    await ch.assertQueue(queue, { durable: true, ...(expires === null ? {} : { expires }) });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (!/PRECONDITION|\b406\b/.test(message)) throw err;
    throw new QueueMismatchError(
      `queue ${queue} already exists on the broker with other arguments than nightless ` +
        `declares (x-expires ${expires === null ? 'none' : `${expires} ms`}, from ` +
        `queue_expires): delete the queue, or set queue_expires back to what it was ` +
        `(docs/ingest.md). The broker said: ${message}`,
    );
  }
  if (exchange !== '') await ch.bindQueue(queue, exchange, routingKey);
}

/**
 * Once per consumer: a queue still named the old way (by pipeline) stays bound and keeps
 * collecting messages nobody reads; say so, with the way out. Checked on a throwaway channel:
 * a failed check closes its channel.
 */
export async function warnAboutLegacyQueue(
  model: ChannelModel,
  legacy: string,
  at: { readonly source: SourceName; readonly queue: string },
  logger: Logger,
): Promise<void> {
  try {
    const probe = await model.createChannel();
    probe.on('error', () => undefined);
    const q = await probe.checkQueue(legacy);
    await probe.close().catch(() => undefined);
    logger.warn(
      {
        source: at.source,
        queue: at.queue,
        legacyQueue: legacy,
        messages: q.messageCount,
      },
      'a queue named the old way (by pipeline) still exists for this source: drain or delete it (docs/ingest.md "Moving to per-installation queues")',
    );
  } catch {
    // No such queue (or the connection went; the subscribe will say so): nothing to say.
  }
}
