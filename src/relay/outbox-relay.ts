import type { Logger } from 'pino';
import { SerialLoop } from '../async/serial-loop.js';
import type { Bus } from '../bus/port.js';
import type { OutboxPort } from '../store/ports.js';
import { isStoreUnavailable } from '../store/ports/unavailable.js';

export interface OutboxRelayDeps {
  readonly outbox: OutboxPort;
  readonly bus: Pick<Bus, 'publish'>;
  /** The highest outbox id already relayed (or history not to replay): relaying starts after it. */
  readonly startAfter: number;
  readonly logger: Logger;
}

/** Rows read per query; a longer backlog takes several reads in one run. */
const PAGE = 500;

/**
 * Publishes committed outbox rows on the bus as `build` messages, in id order, each once per
 * process. The outbox stays the record: reporters read it with their own cursors, so a message
 * the bus drops only delays live views (SSE, log followers) until the next row.
 */
export class OutboxRelay {
  private relayedUpTo: number;
  private readonly loop: SerialLoop;

  constructor(private readonly deps: OutboxRelayDeps) {
    this.relayedUpTo = deps.startAfter;
    this.loop = new SerialLoop(
      () => this.relay(),
      (err) =>
        // Rows stay in the outbox: the next wake-up (at most the replicas' 2 s poll) reads them.
        isStoreUnavailable(err)
          ? deps.logger.warn(
              { reason: err.message },
              'outbox relay: the database is unavailable; relaying again on the next wake-up',
            )
          : deps.logger.error({ err }, 'outbox relay failed'),
    );
  }

  /** New outbox rows were committed. */
  wake(): void {
    this.loop.wake();
  }

  idle(): Promise<void> {
    return this.loop.idle();
  }

  /** Relays what a run in progress reads, then nothing more. Safe to call twice. */
  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async relay(): Promise<void> {
    for (;;) {
      const records = await this.deps.outbox.outboxSince(this.relayedUpTo, PAGE);
      for (const r of records) {
        this.relayedUpTo = r.id;
        this.deps.bus.publish('build', r);
      }
      if (records.length < PAGE) return;
    }
  }
}
