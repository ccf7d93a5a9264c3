import type { AmqpSource, Pipeline, SourceName } from '../../core/pipeline.js';
import { AmqpSourceConsumer, type AmqpConsumerDeps } from './source-consumer.js';

export type AmqpInputsDeps = Omit<AmqpConsumerDeps, 'pipelineName'>;

/**
 * One consumer per amqp source of the running pipeline. `sync` after every (re)load: consumers of
 * removed sources stop, new ones start, changed ones restart; unchanged ones keep consuming.
 * Calls are serialised, so a reload during a reload is safe. A removed source's queue is left
 * on the broker (it may hold messages someone wants back); the broker deletes it once it has
 * had no consumer for the source's `queue_expires` (default 7 days).
 */
export class AmqpInputs {
  private readonly consumers = new Map<SourceName, { consumer: AmqpSourceConsumer; key: string }>();
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly deps: AmqpInputsDeps) {}

  sync(pipeline: Pipeline): Promise<void> {
    const run = this.queue.then(() => this.apply(pipeline));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** The consumer of a source, for status and tests. */
  get(name: SourceName): AmqpSourceConsumer | undefined {
    return this.consumers.get(name)?.consumer;
  }

  get size(): number {
    return this.consumers.size;
  }

  /** Stops every consumer. Safe to call twice. */
  async stop(): Promise<void> {
    await this.queue;
    const all = [...this.consumers.values()];
    this.consumers.clear();
    await Promise.all(all.map((c) => c.consumer.stop()));
  }

  private async apply(pipeline: Pipeline): Promise<void> {
    const wanted = new Map<SourceName, { def: AmqpSource; key: string }>();
    for (const s of pipeline.sources.values()) {
      if (s.kind === 'amqp') wanted.set(s.name, { def: s, key: JSON.stringify(s) });
    }
    const stopping: Array<Promise<void>> = [];
    for (const [name, c] of this.consumers) {
      if (wanted.get(name)?.key === c.key) continue;
      this.consumers.delete(name);
      stopping.push(c.consumer.stop());
    }
    await Promise.all(stopping);
    for (const [name, w] of wanted) {
      if (this.consumers.has(name)) continue;
      const consumer = new AmqpSourceConsumer(w.def, { ...this.deps, pipelineName: pipeline.name });
      this.consumers.set(name, { consumer, key: w.key });
      consumer.start();
    }
  }
}
