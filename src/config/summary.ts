import type { Pipeline, SourceDef } from '../core/pipeline.js';
import { formatDuration } from './durations.js';
import { displayUrl } from '../core/redact.js';
import { outputSourceName } from '../core/output-source.js';

/**
 * A JSON-able overview of a pipeline for `nightless check` and the API. It never contains a
 * secret: URLs lose their credentials and any secret value inside them is masked.
 */
export interface PipelineSummary {
  readonly name: string;
  readonly sources: readonly {
    readonly name: string;
    readonly kind: SourceDef['kind'];
    /** Location without credentials; for job outputs, `job.output`. */
    readonly url: string;
    readonly detail: string;
    readonly consumers: readonly string[];
  }[];
  readonly jobs: readonly {
    readonly name: string;
    readonly inputs: readonly string[];
    readonly steps: number;
    readonly outputs: readonly string[];
    readonly timeout: string | null;
  }[];
  /** `from` is a source name or, for job outputs, the upstream job; `via` the source consumed. */
  readonly edges: readonly { readonly from: string; readonly to: string; readonly via: string }[];
  readonly order: readonly string[];
  readonly reports: readonly { readonly kind: string; readonly target: string }[];
}

export function summarizePipeline(p: Pipeline): PipelineSummary {
  const mask = (text: string): string => displayUrl(text, p.secretValues);

  const sources = [...p.sources.values()].map((s) => ({
    name: s.name,
    kind: s.kind,
    url: s.kind === 'job-output' ? outputSourceName(s.job, s.output) : mask(s.url),
    detail: sourceDetail(s),
    consumers: [...(p.consumers.get(s.name) ?? [])],
  }));
  const jobs = [...p.jobs.values()].map((j) => ({
    name: j.name,
    inputs: [...j.inputs],
    steps: j.steps.length,
    outputs: Object.keys(j.outputs),
    timeout: j.timeoutMs === null ? null : formatDuration(j.timeoutMs),
  }));
  const edges = [...p.jobs.values()].flatMap((j) =>
    j.inputs.map((via) => {
      const s = p.sources.get(via);
      return { from: s?.kind === 'job-output' ? s.job : via, to: j.name, via };
    }),
  );
  const reports = p.reports.map((r) => {
    switch (r.kind) {
      case 'amqp':
        return { kind: r.kind, target: `${mask(r.url)} exchange ${r.exchange}` };
      case 'webhook':
        return { kind: r.kind, target: mask(r.url) };
      case 'commit_status':
        return {
          kind: r.kind,
          target: `${r.provider}${r.baseUrl !== null ? ` at ${mask(r.baseUrl)}` : ''} (context "${r.context}")`,
        };
    }
  });
  return { name: p.name, sources, jobs, edges, order: [...p.order], reports };
}

function sourceDetail(s: SourceDef): string {
  const poll = (ms: number | null) =>
    ms === null ? 'poll off' : `poll every ${formatDuration(ms)}`;
  const quiet = s.quietPeriodMs === null ? '' : `, quiet ${formatDuration(s.quietPeriodMs)}`;
  switch (s.kind) {
    case 'git':
      return `branches ${s.branches.join(', ')}; ${poll(s.fallbackPollMs)}${quiet}`;
    case 'http':
      return `${poll(s.fallbackPollMs)}${quiet}`;
    case 'amqp':
      return `exchange ${s.exchange}, key ${s.routingKey}, version ${s.versionTemplate}${quiet}`;
    case 'job-output':
      return `output "${s.output}" of job ${s.job}`;
  }
}

/** Every path from a root (a source that is not a job output, or a job without inputs) to a leaf. */
function chains(s: PipelineSummary, limit = 50): string[] {
  const next = new Map<string, string[]>();
  for (const e of s.edges) {
    const list = next.get(e.from) ?? [];
    if (!list.includes(e.to)) list.push(e.to);
    next.set(e.from, list);
  }
  const roots = [
    ...s.sources.filter((x) => x.kind !== 'job-output').map((x) => x.name),
    ...s.jobs.filter((j) => j.inputs.length === 0).map((j) => j.name),
  ];
  const out: string[] = [];
  const walk = (node: string, trail: string[]): void => {
    if (out.length >= limit) return;
    const outs = (next.get(node) ?? []).filter((n) => !trail.includes(n));
    if (outs.length === 0) out.push([...trail, node].join(' -> '));
    for (const n of outs) walk(n, [...trail, node]);
  };
  for (const r of roots) walk(r, []);
  return out;
}

/** Human text for `nightless check`. */
export function formatSummary(s: PipelineSummary): string {
  const lines = [
    `pipeline ${s.name}`,
    '',
    `sources (${s.sources.filter((x) => x.kind !== 'job-output').length}):`,
  ];
  for (const src of s.sources) {
    if (src.kind === 'job-output') continue;
    lines.push(`  ${src.name}  ${src.kind} ${src.url}  (${src.detail})`);
  }
  lines.push('', `jobs (${s.jobs.length}):`);
  for (const j of s.jobs) {
    const outputs = j.outputs.length > 0 ? `; outputs ${j.outputs.join(', ')}` : '';
    const inputs = j.inputs.length > 0 ? j.inputs.join(', ') : 'none (manual only)';
    lines.push(
      `  ${j.name}  inputs ${inputs}; ${j.steps} step${j.steps === 1 ? '' : 's'}${outputs}; timeout ${j.timeout ?? 'off'}`,
    );
  }
  lines.push('', 'graph:');
  for (const c of chains(s)) lines.push(`  ${c}`);
  if (s.reports.length > 0) {
    lines.push('', `reports (${s.reports.length}):`);
    for (const r of s.reports) lines.push(`  ${r.kind}  ${r.target}`);
  }
  return lines.join('\n');
}
