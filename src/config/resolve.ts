import { isAbsolute, resolve as resolvePath } from 'node:path';
import type {
  CoverageDef,
  EnvValue,
  JobDef,
  NetworkLimits,
  PublishDef,
  ReportDef,
  SourceDef,
  StepDef,
} from '../core/pipeline.js';
import type { ChangeRequestsDef } from '../core/change-request.js';
import { DEFAULT_ARTIFACT_BUILDS, type RetentionPolicy } from '../core/retention.js';
import { DEFAULTS } from './defaults.js';
import { resolveSlos } from './resolve-slos.js';
import type { SloDef } from '../core/slo/slo-set.js';
import { MAX_AGE_MS, durationOrOff, parseDuration } from './durations.js';
import type { Provenance } from './env-refs.js';
import type { Path } from './paths.js';
import { pathKey } from './paths.js';
import type { JobFile, PipelineFile, SourceFile } from './schema.js';
import { parseSize } from './sizes.js';
import { outputSourceName } from '../core/output-source.js';

/**
 * Validated file → resolved definitions: defaults applied, durations in ms, env values with
 * their templates. Runs only on a file the schema accepted and whose references were checked
 * (`references.ts`), so it cannot fail.
 */

export interface Resolved {
  readonly name: string;
  readonly sources: Map<string, SourceDef>;
  readonly jobs: Map<string, JobDef>;
  readonly reports: ReportDef[];
  readonly retention: RetentionPolicy;
  readonly network: NetworkLimits;
  readonly slos: readonly SloDef[];
  /** Values that must be masked: from `${env:...}` or from secret fields. */
  readonly secretValues: string[];
}

export interface ResolveContext {
  readonly provenance: ReadonlyMap<string, Provenance>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly defaultName: string;
  readonly baseDir?: string;
}

type Scalar = string | number | boolean;

const ms = (v: string | number | boolean | undefined, fallback: string): number | null =>
  durationOrOff(v, durationOrOff(fallback, null));

export function resolvePipeline(file: PipelineFile, ctx: ResolveContext): Resolved {
  const secretValues: string[] = [];
  const secret = (v: string | undefined): string | null => {
    if (v === undefined) return null;
    if (v !== '') secretValues.push(v);
    return v;
  };

  const sources = new Map<string, SourceDef>();
  for (const [name, src] of Object.entries(file.sources ?? {})) {
    sources.set(name, resolveSource(name, src, secret, ctx.baseDir));
  }

  const jobsFile = Object.entries(file.jobs);
  // Every declared output is a source of its own, so an output version always has somewhere to land.
  for (const [job, def] of jobsFile) {
    for (const output of Object.keys(def.outputs ?? {})) {
      const name = outputSourceName(job, output);
      sources.set(name, { kind: 'job-output', name, job, output, quietPeriodMs: null });
    }
  }

  const retention = resolveRetention(file.retention, null);
  const network: NetworkLimits = {
    connectTimeoutMs: ms(file.network?.connect_timeout, DEFAULTS.networkConnectTimeout) ?? 0,
    stallTimeoutMs: ms(file.network?.stall_timeout, DEFAULTS.networkStallTimeout) ?? 0,
  };
  const jobs = new Map<string, JobDef>();
  for (const [name, def] of jobsFile) {
    const path: Path = ['jobs', name];
    jobs.set(name, resolveJob(name, def, path, ctx, secret, retention, network));
    for (const varName of def.secrets ?? []) secret(ctx.env[varName]);
  }

  const reports = (file.reports ?? []).map((r): ReportDef => {
    if ('amqp' in r) return { kind: 'amqp', url: r.amqp.url, exchange: r.amqp.exchange };
    if ('webhook' in r) {
      const w = r.webhook;
      return {
        kind: 'webhook',
        url: w.url,
        secret: secret(w.secret),
        connectTimeoutMs: ms(w.connect_timeout, DEFAULTS.webhookConnectTimeout) ?? 0,
        timeoutMs: ms(w.timeout, DEFAULTS.webhookTimeout) ?? 0,
        maxAttempts: w.max_attempts ?? DEFAULTS.reportMaxAttempts,
        followRedirects: w.follow_redirects ?? false,
        allowPrivate: w.allow_private ?? false,
      };
    }
    const c = r.commit_status;
    return {
      kind: 'commit_status',
      provider: c.provider,
      token: secret(c.token) ?? '',
      baseUrl: c.base_url ?? null,
      context: c.context ?? DEFAULTS.statusContext,
      maxAttempts: c.max_attempts ?? DEFAULTS.reportMaxAttempts,
      allowPrivate: c.allow_private ?? false,
    };
  });

  return {
    name: file.pipeline ?? ctx.defaultName,
    sources,
    jobs,
    reports,
    retention,
    network,
    slos: resolveSlos(file.slos),
    secretValues,
  };
}

/**
 * `retention:` → policy; a job's keys override the pipeline's one by one. `artifacts` never
 * exceeds `builds` (a deleted build has no files to keep).
 */
function resolveRetention(
  r: PipelineFile['retention'],
  base: RetentionPolicy | null,
): RetentionPolicy {
  const builds = r?.builds ?? base?.builds ?? null;
  const age = r?.age;
  let ageMs = base?.ageMs ?? null;
  if (age !== undefined && age !== false) {
    const parsed = parseDuration(age, MAX_AGE_MS);
    if (!parsed.ok) throw new Error(`unvalidated duration reached the resolver: ${parsed.reason}`);
    ageMs = parsed.ms;
  }
  const artifacts = r?.artifacts ?? base?.artifacts ?? DEFAULT_ARTIFACT_BUILDS;
  return { builds, ageMs, artifacts: builds === null ? artifacts : Math.min(artifacts, builds) };
}

function resolveSource(
  name: string,
  src: SourceFile,
  secret: (v: string | undefined) => string | null,
  baseDir: string | undefined,
): SourceDef {
  if ('git' in src) {
    return {
      kind: 'git',
      name,
      url: baseDir === undefined ? src.git : resolveLocalRepo(src.git, baseDir),
      branches: src.branches ?? (src.branch !== undefined ? [src.branch] : [...DEFAULTS.branches]),
      webhookSecret: secret(src.webhook_secret),
      fallbackPollMs: ms(src.fallback_poll, DEFAULTS.fallbackPoll),
      quietPeriodMs: ms(src.quiet_period, DEFAULTS.quietPeriod),
      // Only when on: pipelines without change requests resolve exactly as before.
      ...(src.change_requests === undefined || src.change_requests === false
        ? {}
        : { changeRequests: resolveChangeRequests(src.change_requests, secret) }),
    };
  }
  if ('http' in src) {
    return {
      kind: 'http',
      name,
      url: src.http,
      headers: Object.fromEntries(
        Object.entries(src.headers ?? {}).map(([k, v]) => [k, String(v)]),
      ),
      webhookSecret: secret(src.webhook_secret),
      fallbackPollMs: ms(src.fallback_poll, DEFAULTS.fallbackPoll),
      quietPeriodMs: ms(src.quiet_period, DEFAULTS.quietPeriod),
      maxBytes: parseSize(src.max_size ?? DEFAULTS.maxSize) ?? 0,
      allowPrivate: src.allow_private ?? false,
    };
  }
  const a = src.amqp;
  return {
    kind: 'amqp',
    name,
    url: a.url,
    exchange: a.exchange,
    routingKey: a.routing_key ?? DEFAULTS.routingKey,
    match: { ...(a.match ?? {}) },
    versionTemplate: a.version,
    quietPeriodMs: ms(src.quiet_period, DEFAULTS.quietPeriod),
    queueExpiresMs: ms(a.queue_expires, DEFAULTS.queueExpires),
  };
}

function resolveJob(
  name: string,
  def: JobFile,
  path: Path,
  ctx: ResolveContext,
  secret: (v: string | undefined) => string | null,
  retention: RetentionPolicy,
  networkLimits: NetworkLimits,
): JobDef {
  const steps = def.steps.map((s, i): StepDef => {
    const stepPath: Path = [...path, 'steps', i];
    const step = typeof s === 'string' ? { run: s } : s;
    const runPath = typeof s === 'string' ? stepPath : [...stepPath, 'run'];
    // Name from the run text as written: a run that embeds `${env:TOKEN}` must not leak it.
    const written = ctx.provenance.get(pathKey(runPath))?.template ?? step.run;
    return {
      name: 'name' in step && step.name !== undefined ? step.name : defaultStepName(written),
      run: step.run,
      env: envValues('env' in step ? step.env : undefined, [...stepPath, 'env'], ctx),
      timeoutMs: ms('timeout' in step ? step.timeout : undefined, 'off'),
    };
  });

  return {
    name,
    inputs: [...(def.inputs ?? [])],
    steps,
    env: envValues(def.env, [...path, 'env'], ctx),
    timeoutMs: ms(def.timeout, DEFAULTS.jobTimeout),
    noOutputTimeoutMs: ms(def.no_output_timeout, DEFAULTS.noOutputTimeout),
    outputs: Object.fromEntries(
      Object.entries(def.outputs ?? {}).map(([k, v]) => [k, typeof v === 'string' ? [v] : [...v]]),
    ),
    coverage: coverageOf(def.coverage),
    publish: (def.publish ?? []).map((p, i): PublishDef => ({
      kind: 'sftp',
      host: p.sftp.host,
      port: p.sftp.port ?? DEFAULTS.sftpPort,
      user: p.sftp.user,
      path: p.sftp.path,
      privateKey: secretEnv(
        p.sftp.private_key,
        [...path, 'publish', i, 'sftp', 'private_key'],
        ctx,
        secret,
      ),
      password: secretEnv(
        p.sftp.password,
        [...path, 'publish', i, 'sftp', 'password'],
        ctx,
        secret,
      ),
      hostKey: p.sftp.host_key,
      connectTimeoutMs: ms(p.sftp.connect_timeout, DEFAULTS.sftpConnectTimeout) ?? 0,
      stallTimeoutMs:
        p.sftp.stall_timeout === undefined
          ? networkLimits.stallTimeoutMs
          : (ms(p.sftp.stall_timeout, DEFAULTS.networkStallTimeout) ?? 0),
    })),
    branches: def.branches ? [...def.branches] : null,
    paths: def.paths ? [...def.paths] : null,
    pathsIgnore: def.paths_ignore ? [...def.paths_ignore] : null,
    supersede: def.supersede ?? DEFAULTS.supersede,
    cancelRunning: def.cancel_running ?? DEFAULTS.cancelRunning,
    concurrency: def.concurrency ?? DEFAULTS.concurrency,
    quietPeriodMs: ms(def.quiet_period, DEFAULTS.quietPeriod),
    secrets: [...(def.secrets ?? [])],
    ...(def.isolation === undefined ? {} : { isolation: def.isolation }),
    ...(def.network === undefined ? {} : { network: def.network }),
    workspace: def.workspace ?? DEFAULTS.workspace,
    runsOn: [...new Set(def.runs_on ?? [])],
    retention: def.retention === undefined ? retention : resolveRetention(def.retention, retention),
    ...(def.retry === undefined
      ? {}
      : {
          retry: {
            on: [...def.retry.on],
            attempts: def.retry.attempts ?? DEFAULTS.retryAttempts,
            backoffMs: ms(def.retry.backoff, DEFAULTS.retryBackoff) ?? 0,
          },
        }),
  };
}

/** The first non-empty line of `run`, at most 60 characters. */
function defaultStepName(run: string): string {
  const line =
    run
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '') ?? run.trim();
  return line.length > 60 ? `${line.slice(0, 59)}…` : line;
}

function envValues(
  map: Readonly<Record<string, Scalar>> | undefined,
  path: Path,
  ctx: ResolveContext,
): Record<string, EnvValue> {
  const out: Record<string, EnvValue> = {};
  for (const [k, v] of Object.entries(map ?? {})) {
    const prov = ctx.provenance.get(pathKey([...path, k]));
    out[k] = {
      value: String(v),
      template: prov?.template ?? String(v),
      secret: prov?.fromEnv ?? false,
    };
  }
  return out;
}

function secretEnv(
  value: string | undefined,
  path: Path,
  ctx: ResolveContext,
  secret: (v: string | undefined) => string | null,
): EnvValue | null {
  if (value === undefined) return null;
  secret(value);
  return { value, template: ctx.provenance.get(pathKey(path))?.template ?? value, secret: true };
}

function coverageOf(c: JobFile['coverage']): CoverageDef | null {
  if (c === undefined) return null;
  if ('lcov' in c) return { format: 'lcov', path: c.lcov };
  if ('cobertura' in c) return { format: 'cobertura', path: c.cobertura };
  return { format: 'istanbul', path: c.istanbul };
}

/**
 * A relative local repository path means "relative to the pipeline file", not to wherever the
 * server was started. URLs (`https://`, `ssh://`, `file://`) and scp-like `git@host:path` stay.
 */
function resolveLocalRepo(url: string, baseDir: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/\s]+@[^/\s]+:/.test(url) || isAbsolute(url))
    return url;
  return resolvePath(baseDir, url);
}

/** `change_requests:` as written → what the scheduler, ingest and the poll read. */
function resolveChangeRequests(
  cr: Extract<SourceFile, { git: string }>['change_requests'],
  secret: (v: string | undefined) => string | null,
): ChangeRequestsDef | null {
  if (cr === undefined || cr === false) return null;
  if (cr === true) return { targets: ['**'], checkout: 'head', forge: null, api: null };
  if (Array.isArray(cr)) return { targets: [...cr], checkout: 'head', forge: null, api: null };
  const forge = cr.forge ?? null;
  return {
    targets: cr.targets ? [...cr.targets] : ['**'],
    checkout: cr.checkout ?? 'head',
    forge,
    api:
      cr.api_url !== undefined && cr.project !== undefined
        ? {
            baseUrl: cr.api_url,
            project: cr.project,
            token: secret(cr.token),
            allowPrivate: cr.allow_private ?? false,
          }
        : null,
  };
}
