import { DEFAULTS } from '../config/defaults.js';
import { durationOrOff } from '../config/durations.js';
import { deepFreeze } from '../config/freeze.js';
import { consumersOf, findCycles, topologicalOrder } from '../config/graph.js';
import type {
  AmqpSource,
  EnvValue,
  GitSource,
  HttpSource,
  JobDef,
  Pipeline,
  SourceDef,
  StepDef,
} from '../core/pipeline.js';
import { KEEP_EVERYTHING, type RetentionPolicy } from '../core/retention.js';
import { outputSourceName } from '../core/output-source.js';

/**
 * Builds a frozen `Pipeline` from a compact description, for tests and benchmarks:
 *
 *     pipeline({
 *       sources: { app: git('main') },
 *       jobs: { build: job({ inputs: ['app'], outputs: { dist: ['dist/*'] } }) },
 *     })
 *
 * Defaults are the config loader's (`config/defaults.ts`): supersede on, cancel_running off,
 * job timeout 1h, no-output timeout off, quiet period off, no filters. Every job output becomes a
 * `job-output` source (`build.dist`), and `consumers`/`order` are computed with the loader's own
 * graph functions, so the result has the shape `parsePipeline` returns. Throws on an unknown
 * input or a dependency cycle.
 */

type SourceSpec = Omit<GitSource, 'name'> | Omit<HttpSource, 'name'> | Omit<AmqpSource, 'name'>;

/** An env value as written: a plain string is its own template (not secret). */
export type EnvSpec = string | EnvValue;

export interface JobSpec {
  readonly inputs?: readonly string[];
  /** Shell text, or a full step. Default: one step `true`. */
  readonly steps?: ReadonlyArray<string | StepDef>;
  readonly env?: Readonly<Record<string, EnvSpec>>;
  readonly outputs?: Readonly<Record<string, string | readonly string[]>>;
  readonly timeoutMs?: number | null;
  readonly noOutputTimeoutMs?: number | null;
  readonly coverage?: JobDef['coverage'];
  readonly publish?: JobDef['publish'];
  readonly branches?: readonly string[] | null;
  readonly paths?: readonly string[] | null;
  readonly pathsIgnore?: readonly string[] | null;
  readonly supersede?: boolean;
  readonly cancelRunning?: boolean;
  readonly concurrency?: number;
  readonly quietPeriodMs?: number | null;
  readonly secrets?: readonly string[];
  /** Default: the pipeline's. */
  readonly retention?: RetentionPolicy;
  readonly retry?: JobDef['retry'];
}

export interface PipelineSpec {
  readonly name?: string;
  /** Default: keep everything (the loader's default). */
  readonly retention?: RetentionPolicy;
  readonly sources?: Readonly<Record<string, SourceSpec>>;
  readonly jobs: Readonly<Record<string, JobSpec>>;
}

const JOB_TIMEOUT_MS = durationOrOff(DEFAULTS.jobTimeout, null);
const NO_OUTPUT_TIMEOUT_MS = durationOrOff(DEFAULTS.noOutputTimeout, null);

/** A git source following `branches` (default the loader's: `main`). */
export function git(
  branches: string | readonly string[] = DEFAULTS.branches,
  opts: {
    url?: string;
    quietPeriodMs?: number | null;
    fallbackPollMs?: number | null;
    changeRequests?: GitSource['changeRequests'];
  } = {},
): Omit<GitSource, 'name'> {
  return {
    ...(opts.changeRequests === undefined ? {} : { changeRequests: opts.changeRequests }),
    kind: 'git',
    url: opts.url ?? 'https://git.example.com/app.git',
    branches: typeof branches === 'string' ? [branches] : [...branches],
    webhookSecret: null,
    fallbackPollMs: opts.fallbackPollMs ?? null,
    quietPeriodMs: opts.quietPeriodMs ?? null,
  };
}

/** An HTTP resource (version = ETag or body digest). */
export function http(
  url = 'https://files.example.com/input.bin',
  opts: { quietPeriodMs?: number | null; allowPrivate?: boolean } = {},
): Omit<HttpSource, 'name'> {
  return {
    kind: 'http',
    url,
    headers: {},
    webhookSecret: null,
    fallbackPollMs: null,
    quietPeriodMs: opts.quietPeriodMs ?? null,
    maxBytes: 100 * 1024 * 1024,
    allowPrivate: opts.allowPrivate ?? false,
  };
}

/** A stream of bus messages announcing versions (an input binary). */
export function amqp(opts: { quietPeriodMs?: number | null } = {}): Omit<AmqpSource, 'name'> {
  return {
    kind: 'amqp',
    url: 'amqp://localhost',
    exchange: 'amq.topic',
    routingKey: '#',
    match: {},
    versionTemplate: '{version}',
    quietPeriodMs: opts.quietPeriodMs ?? null,
    queueExpiresMs: 7 * 24 * 60 * 60 * 1000,
  };
}

/** Identity, for readable literals: `job({ inputs: ['app'] })`. */
export function job(spec: JobSpec = {}): JobSpec {
  return spec;
}

/** An env value that came from `${env:NAME}`: the template enters fingerprints, the value doesn't. */
export function envRef(name: string, value: string): EnvValue {
  return { value, template: `\${env:${name}}`, secret: true };
}

export function pipeline(spec: PipelineSpec): Pipeline {
  const sources = new Map<string, SourceDef>();
  for (const [name, s] of Object.entries(spec.sources ?? {})) sources.set(name, { ...s, name });
  for (const [jobName, j] of Object.entries(spec.jobs)) {
    for (const output of Object.keys(j.outputs ?? {})) {
      const name = outputSourceName(jobName, output);
      sources.set(name, { kind: 'job-output', name, job: jobName, output, quietPeriodMs: null });
    }
  }
  const jobs = new Map<string, JobDef>();
  for (const [name, j] of Object.entries(spec.jobs)) {
    for (const input of j.inputs ?? []) {
      if (!sources.has(input)) throw new Error(`job "${name}": unknown input "${input}"`);
    }
    jobs.set(name, jobDef(name, j, spec.retention ?? KEEP_EVERYTHING));
  }
  const graphJobs = [...jobs.values()];
  const upstreamOf = (input: string): string | null => {
    const s = sources.get(input);
    return s?.kind === 'job-output' ? s.job : null;
  };
  const [cycle] = findCycles(graphJobs, upstreamOf);
  if (cycle) throw new Error(`dependency cycle: ${cycle.jobs.join(' -> ')}`);
  return deepFreeze<Pipeline>({
    name: spec.name ?? 'test',
    sources,
    jobs,
    reports: [],
    retention: spec.retention ?? KEEP_EVERYTHING,
    consumers: consumersOf(sources.keys(), graphJobs),
    order: topologicalOrder(graphJobs, upstreamOf),
    secretValues: [],
  });
}

function jobDef(name: string, j: JobSpec, retention: RetentionPolicy): JobDef {
  return {
    name,
    inputs: [...(j.inputs ?? [])],
    steps: (j.steps ?? ['true']).map((s) =>
      typeof s === 'string' ? { name: s, run: s, env: {}, timeoutMs: null } : s,
    ),
    env: envValues(j.env ?? {}),
    timeoutMs: j.timeoutMs === undefined ? JOB_TIMEOUT_MS : j.timeoutMs,
    noOutputTimeoutMs:
      j.noOutputTimeoutMs === undefined ? NO_OUTPUT_TIMEOUT_MS : j.noOutputTimeoutMs,
    outputs: Object.fromEntries(
      Object.entries(j.outputs ?? {}).map(([k, v]) => [k, typeof v === 'string' ? [v] : [...v]]),
    ),
    coverage: j.coverage ?? null,
    publish: j.publish ?? [],
    branches: j.branches ?? null,
    paths: j.paths ?? null,
    pathsIgnore: j.pathsIgnore ?? null,
    supersede: j.supersede ?? DEFAULTS.supersede,
    cancelRunning: j.cancelRunning ?? DEFAULTS.cancelRunning,
    concurrency: j.concurrency ?? DEFAULTS.concurrency,
    quietPeriodMs: j.quietPeriodMs ?? null,
    secrets: [...(j.secrets ?? [])],
    retention: j.retention ?? retention,
    ...(j.retry === undefined ? {} : { retry: j.retry }),
  };
}

function envValues(spec: Readonly<Record<string, EnvSpec>>): Record<string, EnvValue> {
  return Object.fromEntries(
    Object.entries(spec).map(([k, v]) => [
      k,
      typeof v === 'string' ? { value: v, template: v, secret: false } : v,
    ]),
  );
}
