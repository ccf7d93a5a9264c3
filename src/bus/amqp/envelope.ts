import type { BusMessages, Topic } from '../port.js';

/**
 * What travels on the broker: a versioned envelope, so a replica running an older or newer
 * nightless ignores what it cannot read instead of misreading it. `origin` names the bus that
 * published it: a bus delivers its own messages locally at once and drops them when the broker
 * hands them back.
 */
export interface Envelope<T extends Topic = Topic> {
  readonly v: 1;
  readonly origin: string;
  readonly topic: T;
  readonly message: BusMessages[T];
}

const TOPICS: ReadonlySet<string> = new Set<Topic>(['build', 'log', 'replicas']);

export function encodeEnvelope<T extends Topic>(
  origin: string,
  topic: T,
  message: BusMessages[T],
): Buffer {
  const envelope: Envelope<T> = { v: 1, origin, topic, message };
  return Buffer.from(JSON.stringify(envelope));
}

/** The envelope, or why it is not one (a foreign or newer publisher on the exchange). */
export function decodeEnvelope(body: Buffer): Envelope | { readonly invalid: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { invalid: 'not JSON' };
  }
  if (typeof parsed !== 'object' || parsed === null) return { invalid: 'not an object' };
  const e = parsed as Record<string, unknown>;
  if (e['v'] !== 1) return { invalid: `unknown envelope version ${JSON.stringify(e['v'])}` };
  if (typeof e['origin'] !== 'string') return { invalid: 'no origin' };
  if (typeof e['topic'] !== 'string' || !TOPICS.has(e['topic']))
    return { invalid: `unknown topic ${JSON.stringify(e['topic'])}` };
  if (typeof e['message'] !== 'object' || e['message'] === null) return { invalid: 'no message' };
  return parsed as Envelope;
}
