import type { OutboxRecord, ReadPort } from '../store/ports.js';
import { routingKey, toCloudEvent } from './cloudevent.js';
import type { OutgoingEvent } from './sender.js';

export interface EventFactoryDeps {
  readonly reads: Pick<ReadPort, 'getBuild'>;
  readonly pipelineName: () => string;
  readonly publicUrl: () => string;
  readonly buildUrl: (id: number) => string;
}

const CACHE_SIZE = 2_000;

/**
 * Turns outbox rows into events, once per row however many targets send it (a small cache by
 * outbox id). `finished` events read the build's outputs for the artifact digests.
 */
export class EventFactory {
  private readonly cache = new Map<number, Promise<OutgoingEvent>>();

  constructor(private readonly deps: EventFactoryDeps) {}

  make(record: OutboxRecord): Promise<OutgoingEvent> {
    let e = this.cache.get(record.id);
    if (!e) {
      e = this.build(record);
      e.catch(() => this.cache.delete(record.id));
      if (this.cache.size >= CACHE_SIZE) {
        const oldest = this.cache.keys().next();
        if (!oldest.done) this.cache.delete(oldest.value);
      }
      this.cache.set(record.id, e);
    }
    return e;
  }

  private async build(record: OutboxRecord): Promise<OutgoingEvent> {
    const { deps } = this;
    const outputs =
      record.type === 'finished'
        ? ((await deps.reads.getBuild(record.buildId))?.outputs ?? [])
        : [];
    const pipeline = deps.pipelineName();
    const event = toCloudEvent(record, {
      pipeline,
      publicUrl: deps.publicUrl().replace(/\/+$/, ''),
      buildUrl: deps.buildUrl,
      outputs,
    });
    return { record, event, body: JSON.stringify(event), routingKey: routingKey(pipeline, record) };
  }
}
