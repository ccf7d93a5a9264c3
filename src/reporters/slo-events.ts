import type { SloReport } from '../core/slo/slo-set.js';

/**
 * A fast-burn alert of an SLO started or ended, as announced on the bus and to webhooks. Written
 * to the outbox (`SloAlert`) and delivered by the report targets like build events: AMQP with
 * routing key `<pipeline>.slo.<kind>`, webhooks signed, both retried; commit statuses skip it.
 */
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
