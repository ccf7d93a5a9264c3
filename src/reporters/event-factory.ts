import { requestNumber } from '../core/change-request.js';
import type { ChangeRequestPort } from '../store/ports/change-requests.js';
import type { OutboxEntry, OutboxRecord, ReadPort } from '../store/ports.js';
import { sloCloudEvent } from './slo-events.js';
import { routingKey, toCloudEvent, type ChangeRequestData } from './cloudevent.js';
import type { OutgoingEvent } from './sender.js';

export interface EventFactoryDeps {
  readonly reads: Pick<ReadPort, 'getBuild'>;
  readonly pipelineName: () => string;
  readonly publicUrl: () => string;
  readonly buildUrl: (id: number) => string;
  /** Change requests, for the `changeRequest` of events about a request's builds. */
  readonly requests?: Pick<ChangeRequestPort, 'getRequest' | 'approvalOf'>;
}

const CACHE_SIZE = 2_000;

/**
 * Turns outbox rows into events, once per row however many targets send it (a small cache by
 * outbox id). `finished` events read the build's outputs for the artifact digests.
 */
export class EventFactory {
  private readonly cache = new Map<number, Promise<OutgoingEvent>>();

  constructor(private readonly deps: EventFactoryDeps) {}

  make(record: OutboxEntry): Promise<OutgoingEvent> {
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

  private async build(record: OutboxEntry): Promise<OutgoingEvent> {
    const { deps } = this;
    if ('alert' in record) {
      const { alert } = record;
      const event = sloCloudEvent(alert.kind, alert.report, alert.at, {
        pipeline: alert.pipeline,
        publicUrl: deps.publicUrl().replace(/\/+$/, ''),
      });
      const routingKey = `${alert.pipeline}.slo.${alert.kind}`;
      return { kind: 'slo', record, event, body: JSON.stringify(event), routingKey };
    }
    const outputs =
      record.type === 'finished'
        ? ((await deps.reads.getBuild(record.buildId))?.outputs ?? [])
        : [];
    const pipeline = deps.pipelineName();
    const base = toCloudEvent(record, {
      pipeline,
      publicUrl: deps.publicUrl().replace(/\/+$/, ''),
      buildUrl: deps.buildUrl,
      outputs,
    });
    const changeRequest = await this.changeRequestOf(record);
    const event = changeRequest ? { ...base, data: { ...base.data, changeRequest } } : base;
    return {
      kind: 'build',
      record,
      event,
      body: JSON.stringify(event),
      routingKey: routingKey(pipeline, record),
    };
  }

  /** The request a build of `pr/<n>` belongs to, as the forge last described it. */
  private async changeRequestOf(record: OutboxRecord): Promise<ChangeRequestData | null> {
    for (const input of record.build.inputs) {
      const number = requestNumber(input.ref);
      if (number === null) continue;
      const r = await this.deps.requests?.getRequest(input.source, number);
      if (!r) return null;
      const trusted =
        !r.fork ||
        (await this.deps.requests?.approvalOf(input.source, number, input.version)) != null;
      return {
        source: r.source,
        number: r.number,
        title: r.title,
        author: r.author,
        target: r.target,
        headSha: r.headSha,
        fork: r.fork,
        url: r.url,
        trusted,
      };
    }
    return null;
  }
}
