import type { ChangeRequestsDef } from './change-request.js';
import type { SloDef } from './slo/slo-set.js';
import type { RetentionPolicy } from './retention.js';

/**
 * The resolved pipeline: what `config/` produces from `nightless.yaml` and what every other
 * layer reads. Durations are milliseconds; `null` means "off". Objects are frozen by the loader.
 */

export type SourceName = string;
export type JobName = string;

/** A git repository (remote URL, local path or bare repository) and the branches it tracks. */
export interface GitSource {
  readonly kind: 'git';
  readonly name: SourceName;
  readonly url: string;
  /** Branch patterns this source follows (`main`, `release/*`); a version is the head commit of one of them. */
  readonly branches: readonly string[];
  readonly webhookSecret: string | null;
  readonly fallbackPollMs: number | null;
  readonly quietPeriodMs: number | null;
  /** `change_requests:`; absent or `null`: requests are not built. */
  readonly changeRequests?: ChangeRequestsDef | null;
}

/** A resource over HTTP whose version is its ETag or the sha256 of its body. */
export interface HttpSource {
  readonly kind: 'http';
  readonly name: SourceName;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly webhookSecret: string | null;
  readonly fallbackPollMs: number | null;
  readonly quietPeriodMs: number | null;
  readonly maxBytes: number;
  /** Loopback and private addresses may be checked (`allow_private: true`); refused otherwise. */
  readonly allowPrivate: boolean;
}

/** A stream of JSON messages on an AMQP exchange; matching messages announce versions. */
export interface AmqpSource {
  readonly kind: 'amqp';
  readonly name: SourceName;
  readonly url: string;
  readonly exchange: string;
  readonly routingKey: string;
  /** Dotted paths into the message body and the values they must equal. */
  readonly match: Readonly<Record<string, string | number | boolean>>;
  /** `{version}-{release}`: placeholders are dotted paths into the message body. */
  readonly versionTemplate: string;
  readonly quietPeriodMs: number | null;
  /** The queue's `x-expires`: the broker deletes it after this long without a consumer; null: never. */
  readonly queueExpiresMs: number | null;
}

/** An output of another job (`build.dist`); its version is the output's content digest. */
export interface JobOutputSource {
  readonly kind: 'job-output';
  readonly name: SourceName;
  readonly job: JobName;
  readonly output: string;
  readonly quietPeriodMs: number | null;
}

export type SourceDef = GitSource | HttpSource | AmqpSource | JobOutputSource;

/** An environment value: `secret` values are masked in logs and never returned by the API. */
export interface EnvValue {
  readonly value: string;
  /** The text as written in the file (`${env:TOKEN}`); used for the fingerprint so a rotated secret does not rebuild. */
  readonly template: string;
  readonly secret: boolean;
}

export interface StepDef {
  readonly name: string;
  readonly run: string;
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly timeoutMs: number | null;
}

export type CoverageDef =
  | { readonly format: 'lcov'; readonly path: string }
  | { readonly format: 'cobertura'; readonly path: string }
  | { readonly format: 'istanbul'; readonly path: string };

export interface SftpPublish {
  readonly kind: 'sftp';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly path: string;
  readonly privateKey: EnvValue | null;
  readonly password: EnvValue | null;
  /** Required by the config: a host is never trusted on first use. */
  readonly hostKey: string;
  readonly connectTimeoutMs: number;
  /** No answer for this long mid-transfer ends the publish as `network`; absent: 15 s. */
  readonly stallTimeoutMs?: number;
}

export type PublishDef = SftpPublish;

/**
 * How long nightless' own network operations (git clone/fetch/ls-remote, SFTP) may take to
 * connect, and how long a connected transfer may go without a byte before it is abandoned as a
 * `network` failure.
 */
export interface NetworkLimits {
  readonly connectTimeoutMs: number;
  readonly stallTimeoutMs: number;
}

/** Short on purpose: a firewall that drops packets must not hold a build for minutes. */
export const DEFAULT_NETWORK_LIMITS: NetworkLimits = Object.freeze({
  connectTimeoutMs: 5_000,
  stallTimeoutMs: 30_000,
});

/** `retry:` of a job: builds ending in one of `on` are re-run as a new build, `attempts` in all. */
export interface RetryPolicy {
  readonly on: readonly ('network' | 'infrastructure' | 'timeout')[];
  /** Total attempts including the first (2 = one retry). */
  readonly attempts: number;
  /** Wait before the first retry; doubled for each further one. */
  readonly backoffMs: number;
}

export interface JobDef {
  readonly name: JobName;
  /** Source names, in the order written; job outputs appear as `job.output`. */
  readonly inputs: readonly SourceName[];
  readonly steps: readonly StepDef[];
  readonly env: Readonly<Record<string, EnvValue>>;
  readonly timeoutMs: number | null;
  readonly noOutputTimeoutMs: number | null;
  /** Output name → glob patterns relative to the workspace. */
  readonly outputs: Readonly<Record<string, readonly string[]>>;
  readonly coverage: CoverageDef | null;
  readonly publish: readonly PublishDef[];
  /** Branch patterns; `null` accepts every branch the source tracks. */
  readonly branches: readonly string[] | null;
  readonly paths: readonly string[] | null;
  readonly pathsIgnore: readonly string[] | null;
  readonly supersede: boolean;
  readonly cancelRunning: boolean;
  /**
   * Builds of one concurrency group (`concurrencyGroup`: the job and its primary branch) that
   * may run at once; 1 by default, so builds of a branch start and finish in order.
   */
  readonly concurrency: number;
  readonly quietPeriodMs: number | null;
  /** Extra values to mask in logs (names of environment variables of the server). */
  readonly secrets: readonly string[];
  /**
   * `sandbox`: steps run under bubblewrap (docs/change-requests.md, "Sandboxed steps"); `none`:
   * plain processes. Absent: `sandbox` for untrusted builds (fork requests), `none` otherwise.
   */
  readonly isolation?: 'sandbox' | 'none';
  /** A sandboxed step may use the network (`network: true`); off by default. */
  readonly network?: boolean;
  /**
   * `warm` (absent: the same): a passing build's tree is kept for the job's next build, which
   * moves it to its commit (`checkout --force` + `clean -ffdx`); `fresh`: a new clone each time.
   */
  readonly workspace?: 'warm' | 'fresh';
  /**
   * `runs_on:` labels as written (without repeats): builds run only on an agent having all of them (never on local
   * slots). Absent or empty: anywhere.
   */
  readonly runsOn?: readonly string[];
  /**
   * The pipeline's `retention` with this job's own keys applied over it. Absent (hand-built
   * pipelines): the pipeline's.
   */
  readonly retention?: RetentionPolicy;
  /** Absent: a failed build is never re-run by itself. */
  readonly retry?: RetryPolicy;
}

export type ReportDef =
  | { readonly kind: 'amqp'; readonly url: string; readonly exchange: string }
  | {
      readonly kind: 'webhook';
      readonly url: string;
      readonly secret: string | null;
      readonly connectTimeoutMs: number;
      readonly timeoutMs: number;
      /** Attempts before the delivery is dead (visible in `nightless deliveries`). */
      readonly maxAttempts: number;
      /** Off by default: a 3xx answer fails the attempt. */
      readonly followRedirects: boolean;
      /** Loopback and private addresses may be reached (`allow_private: true`); refused otherwise. */
      readonly allowPrivate: boolean;
    }
  | {
      readonly kind: 'commit_status';
      readonly provider: 'github' | 'gitlab' | 'gitea';
      readonly token: string;
      readonly baseUrl: string | null;
      readonly context: string;
      readonly maxAttempts: number;
      /** Loopback and private addresses may be reached (`allow_private: true`); refused otherwise. */
      readonly allowPrivate: boolean;
    };

export interface Pipeline {
  /** Pipeline name: used in event routing keys and queue names. */
  readonly name: string;
  readonly sources: ReadonlyMap<SourceName, SourceDef>;
  readonly jobs: ReadonlyMap<JobName, JobDef>;
  readonly reports: readonly ReportDef[];
  /**
   * Pipeline-level `retention`: also what applies to builds of jobs no longer in the file.
   * Absent (hand-built pipelines): `KEEP_EVERYTHING`.
   */
  readonly retention?: RetentionPolicy;
  /** `network:`; absent (hand-built pipelines): `DEFAULT_NETWORK_LIMITS`. */
  readonly network?: NetworkLimits;
  /** `slos:`; absent or empty: none. */
  readonly slos?: readonly SloDef[];
  /** Source → jobs consuming it, in declaration order (the index the scheduler uses instead of a scan). */
  readonly consumers: ReadonlyMap<SourceName, readonly JobName[]>;
  /** Jobs in a topological order (upstream first). */
  readonly order: readonly JobName[];
  /** Every secret value resolved while loading, for masking. */
  readonly secretValues: readonly string[];
}
