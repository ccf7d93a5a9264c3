import type { IncomingHttpHeaders } from 'node:http';
import type { Verdict } from './signature.js';
import type { WebhookParse } from './webhook-parse.js';

export type ForgeName = 'github' | 'gitlab' | 'gitea';

/**
 * One forge's webhook dialect: which headers carry the event type, the delivery id and the
 * signature, and how its payloads read. Drivers hold no secrets and no state.
 */
export interface ForgeDriver {
  readonly name: ForgeName;
  /** The event type header (`push`, `Push Hook`), or `null` when absent. */
  eventType(headers: IncomingHttpHeaders): string | null;
  /** The forge's id for this delivery, stable across its redeliveries; `null` when absent. */
  deliveryId(headers: IncomingHttpHeaders): string | null;
  /** Checks the delivery's signature or token against one source's secret, in constant time. */
  verify(headers: IncomingHttpHeaders, rawBody: Buffer, secret: string): Verdict;
  /** Reads a JSON body; throws `PayloadError` when it is not the shape the event type promises. */
  parse(eventType: string, body: unknown): WebhookParse;
}

/** A header's first value (Node joins most repeated headers already). */
export function header(headers: IncomingHttpHeaders, name: string): string | null {
  const v = headers[name.toLowerCase()];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined || first === '' ? null : first;
}
