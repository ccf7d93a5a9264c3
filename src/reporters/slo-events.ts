import { connect } from 'amqplib';
import type { Logger } from 'pino';
import type { ReportDef } from '../core/pipeline.js';
import type { SloReport } from '../core/slo/slo-set.js';
import { displayUrl } from '../core/redact.js';
import { HttpPoster } from './http/http-post.js';
import { signBody } from './webhook/webhook-reporter.js';

/** A fast-burn alert of an SLO started or ended, as announced on the bus and to webhooks. */
export interface SloCloudEvent {
  readonly specversion: '1.0';
  /** `<pipeline>:slo:<name>:<kind>:<at>`: stable across the attempts of one announcement. */
  readonly id: string;
  readonly source: string;
  readonly type: 'dev.nightless.slo.burning' | 'dev.nightless.slo.recovered';
  readonly subject: string;
  readonly time: string;
  readonly datacontenttype: 'application/json';
  readonly data: { readonly pipeline: string; readonly slo: SloReport };
}

export function sloCloudEvent(
  kind: 'burning' | 'recovered',
  report: SloReport,
  at: number,
  ctx: { readonly pipeline: string; readonly publicUrl: string },
): SloCloudEvent {
  // JSON has no infinities; `null` stands for them as in `GET /api/slos`.
  const slo = JSON.parse(
    JSON.stringify(report, (_k, v: unknown) =>
      typeof v === 'number' && !Number.isFinite(v) ? null : v,
    ),
  ) as SloReport;
  return {
    specversion: '1.0',
    id: `${ctx.pipeline}:slo:${report.name}:${kind}:${at}`,
    source: `${ctx.publicUrl}/pipelines/${ctx.pipeline}`,
    type: `dev.nightless.slo.${kind}`,
    subject: `slo/${report.name}`,
    time: new Date(at).toISOString(),
    datacontenttype: 'application/json',
    data: { pipeline: ctx.pipeline, slo },
  };
}

const AMQP_CONNECT_TIMEOUT_MS = 5_000;
const ATTEMPTS = 3;

/**
 * Sends an SLO event to the pipeline's `amqp` (routing key `<pipeline>.slo.<kind>`, publisher
 * confirm) and `webhook` targets (signed like build events). Best effort, outside the build
 * outbox: up to 3 attempts per target, each with connect and overall timeouts; a failure is
 * logged and never blocks the other targets. Commit statuses have nothing to say about SLOs.
 */
export async function announceSlo(
  event: SloCloudEvent,
  reports: readonly ReportDef[],
  logger: Logger,
): Promise<void> {
  const body = JSON.stringify(event);
  const kind = event.type.slice('dev.nightless.slo.'.length);
  await Promise.all(
    reports.map(async (def) => {
      if (def.kind === 'commit_status') return;
      for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
        try {
          if (def.kind === 'amqp')
            await publishAmqp(def, `${event.data.pipeline}.slo.${kind}`, event, body);
          else await postWebhook(def, event, body);
          return;
        } catch (err) {
          const where = displayUrl(def.url);
          if (attempt === ATTEMPTS)
            logger.error(
              { err, target: where, event: event.id },
              'announcing an SLO change failed',
            );
          else await new Promise((r) => setTimeout(r, 500 * attempt));
        }
      }
    }),
  );
}

async function publishAmqp(
  def: Extract<ReportDef, { kind: 'amqp' }>,
  routingKey: string,
  event: SloCloudEvent,
  body: string,
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`amqp publish timeout after ${AMQP_CONNECT_TIMEOUT_MS} ms`)),
      AMQP_CONNECT_TIMEOUT_MS * 2,
    );
  });
  const work = (async () => {
    const model = await connect(def.url, {
      timeout: AMQP_CONNECT_TIMEOUT_MS,
      clientProperties: { connection_name: 'nightless slo events' },
    });
    try {
      model.on('error', () => undefined);
      // As the build reporter does: use the exchange as it is; declare it only when missing.
      const probe = await model.createChannel();
      probe.on('error', () => undefined);
      try {
        await probe.checkExchange(def.exchange);
        await probe.close().catch(() => undefined);
      } catch {
        const decl = await model.createChannel();
        await decl.assertExchange(def.exchange, 'topic', { durable: true });
        await decl.close();
      }
      const ch = await model.createConfirmChannel();
      ch.on('error', () => undefined);
      ch.publish(def.exchange, routingKey, Buffer.from(body), {
        persistent: true,
        contentType: 'application/cloudevents+json',
        contentEncoding: 'utf-8',
        messageId: event.id,
        type: event.type,
        appId: 'nightless',
      });
      await ch.waitForConfirms();
    } finally {
      await model.close().catch(() => undefined);
    }
  })();
  try {
    await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function postWebhook(
  def: Extract<ReportDef, { kind: 'webhook' }>,
  event: SloCloudEvent,
  body: string,
): Promise<void> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/cloudevents+json; charset=utf-8',
    'User-Agent': 'nightless',
    'X-Nightless-Event': event.type,
    'X-Nightless-Delivery': event.id,
  };
  if (def.secret !== null && def.secret !== '')
    headers['X-Nightless-Signature-256'] = signBody(def.secret, body);
  const poster = new HttpPoster();
  try {
    const r = await poster.post(def.url, body, {
      headers,
      connectTimeoutMs: def.connectTimeoutMs,
      timeoutMs: def.timeoutMs,
      followRedirects: def.followRedirects,
      policy: {
        allowPrivate: def.allowPrivate,
        allowHint: 'allow_private: true on this webhook report',
      },
    });
    if (!r.ok) throw new Error(r.error);
  } finally {
    poster.close();
  }
}
