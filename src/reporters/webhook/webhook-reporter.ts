import { sendsBeyondStatus } from '../cloudevent.js';
import { createHmac } from 'node:crypto';
import type { ReportDef } from '../../core/pipeline.js';
import { HttpPoster } from '../http/http-post.js';
import type { OutgoingEvent, SendOutcome, SingleSender } from '../sender.js';

type WebhookDef = Extract<ReportDef, { kind: 'webhook' }>;

/** `sha256=<hex HMAC-SHA256 of the body with the secret>`, as `X-Nightless-Signature-256` carries it. */
export function signBody(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/**
 * POSTs each event, as a structured-mode CloudEvent, to one URL (docs/events.md, "Webhooks"):
 * `Content-Type: application/cloudevents+json`, `X-Nightless-Event: <type>`,
 * `X-Nightless-Delivery: <delivery id>` (the same on every retry of one delivery) and, with a
 * secret, `X-Nightless-Signature-256`. Redirects fail unless `follow_redirects` is on.
 */
export class WebhookReporter implements SingleSender {
  readonly mode = 'single';
  readonly maxAttempts: number;
  private readonly poster = new HttpPoster();

  constructor(private readonly def: WebhookDef) {
    this.maxAttempts = def.maxAttempts;
  }

  /** Not the builds of an unapproved fork's request: only commit statuses report those. */
  wants(e: OutgoingEvent): boolean {
    return e.kind === 'slo' || sendsBeyondStatus(e);
  }

  send(
    e: OutgoingEvent,
    delivery: { readonly id: number; readonly attempt: number },
    signal: AbortSignal,
  ): Promise<SendOutcome> {
    const headers: Record<string, string> = {
      'Content-Type': 'application/cloudevents+json; charset=utf-8',
      'User-Agent': 'nightless',
      'X-Nightless-Event': e.event.type,
      'X-Nightless-Delivery': String(delivery.id),
      'X-Nightless-Attempt': String(delivery.attempt),
    };
    // `check` refuses an empty secret; a definition built in code must not sign with one either,
    // since a receiver that accepts an empty-key HMAC accepts anyone's.
    if (this.def.secret === '')
      return Promise.resolve({
        ok: false,
        retryable: false,
        error: `webhook ${this.def.url}: the signing secret is empty; refusing to sign with an empty key`,
      });
    if (this.def.secret !== null)
      headers['X-Nightless-Signature-256'] = signBody(this.def.secret, e.body);
    return this.poster.post(this.def.url, e.body, {
      headers,
      connectTimeoutMs: this.def.connectTimeoutMs,
      timeoutMs: this.def.timeoutMs,
      followRedirects: this.def.followRedirects,
      policy: {
        allowPrivate: this.def.allowPrivate,
        allowHint: 'allow_private: true on this webhook report',
      },
      signal,
    });
  }

  close(): Promise<void> {
    this.poster.close();
    return Promise.resolve();
  }
}
