import type { Bus } from '../bus/port.js';
import type { ServerOptions, ServerReads } from '../server/options.js';
import type { Engine } from './engine.js';

/** What the HTTP API is given instead of the engine: the read model, live changes, commands. */
export type ApiPorts = Pick<
  ServerOptions,
  'read' | 'outbox' | 'meta' | 'live' | 'commands' | 'pipeline' | 'slots'
>;

/**
 * The API's ports in the embedded deployment: reads from the store, live changes from the bus,
 * commands carried out by the engine. The commands are wrapped so the server holds two functions,
 * not the engine.
 */
export function apiPorts(
  engine: Engine,
  store: ServerReads,
  live: Pick<Bus, 'subscribe'>,
): ApiPorts {
  return {
    read: store.read,
    outbox: store.outbox,
    meta: store.meta,
    live,
    commands: {
      trigger: (job, request) => engine.trigger(job, request),
      cancel: (id, by) => engine.cancel(id, by),
    },
    pipeline: () => engine.pipeline,
    slots: engine.slots,
  };
}
