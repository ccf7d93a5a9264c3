import { z } from 'zod';
import { DEFAULT_ARTIFACT_BUILDS } from '../core/retention.js';
import { DEFAULTS } from './defaults.js';
import {
  DURATION_PATTERN,
  DURATION_PATTERN_OR_OFF,
  MAX_AGE_MS,
  MAX_DURATION_MS,
  durationProblem,
  parseDuration,
} from './durations.js';
import { branchPatternProblem, globProblem, workspacePathProblem } from './globs.js';
import { ENV_NAME_PATTERN, NAME_PATTERN, NAME_RULE } from './names.js';
import { kinds, strict, VALUE } from './schema-helpers.js';
import { SIZE_HINT, SIZE_PATTERN } from './sizes.js';
import { refusedAddressProblem, urlProblem } from './urls.js';
import { parseVersionTemplate } from './version-template.js';

/**
 * The pipeline file as written: the single source of truth for validation and for
 * `schema/nightless.schema.json` (editor completion). It checks shape and syntax only;
 * defaults, durations in ms and references are the resolver's job (`resolve.ts`).
 */

/** A string refined by `problem`; the message quotes the value as written via `%VALUE%`. */
function checked(what: string, problem: (v: string) => string | null) {
  return z.string().superRefine((v, ctx) => {
    const p = problem(v);
    if (p !== null) ctx.addIssue({ code: 'custom', message: `${what} ${VALUE}: ${p}` });
  });
}

const nonEmpty = z.string().min(1, { error: 'must not be empty' });

/**
 * A secret (signing key, token, password). Empty is refused, whether written `""` or resolved
 * from an environment variable that is set but empty: an HMAC with an empty key is one anyone
 * can compute, so it would authenticate every sender.
 */
const secretText = z.string().min(1, {
  error: `empty secret ${VALUE}: a secret must have a value (an environment variable that is set but empty counts as empty)`,
});

/** Past the syntax: a value the parser refuses (too long for a timer, `30d`) is an error here. */
function withinMax<T extends string | number>(maxMs: number, offAllowed: boolean) {
  return (v: T, ctx: z.core.$RefinementCtx<T>) => {
    // Syntax, sign and fractions are the other checks' to report; this one only the maximum.
    if (v === 'off' || !parseDuration(v, Infinity).ok) return;
    const r = parseDuration(v, maxMs);
    if (!r.ok)
      ctx.addIssue({
        code: 'custom',
        message: `invalid duration ${VALUE}: ${r.reason}${offAllowed ? ', or off' : ''}`,
      });
  };
}

const duration = (offAllowed: boolean, maxMs?: number) =>
  z.union([
    z
      .string()
      .regex(offAllowed ? DURATION_PATTERN_OR_OFF : DURATION_PATTERN, {
        error: (iss) => `invalid duration ${VALUE}: ${durationProblem(iss.input, offAllowed)}`,
      })
      .superRefine(withinMax<string>(maxMs ?? MAX_DURATION_MS, offAllowed)),
    z
      .number()
      .int({ error: `invalid duration ${VALUE}: a number of seconds must be a whole number` })
      .min(0, { error: `invalid duration ${VALUE}: a duration cannot be negative` })
      .superRefine(withinMax<number>(maxMs ?? MAX_DURATION_MS, offAllowed)),
    ...(offAllowed ? [z.literal(false)] : []),
  ]);

/** `90s`, `10m`, `1h30m`, a number of seconds. */
const dur = (description: string, dflt: string | number) =>
  duration(false).optional().meta({ description, default: dflt });
/** Like `dur`, plus `off`/`false`. */
const durOff = (description: string, dflt: string | number) =>
  duration(true).optional().meta({ description, default: dflt });

const size = z.union([
  z.string().regex(SIZE_PATTERN, { error: `invalid size ${VALUE}: ${SIZE_HINT}` }),
  z
    .number()
    .int()
    .min(0, { error: `invalid size ${VALUE}: ${SIZE_HINT}` }),
]);

const name = (what: string) =>
  z.string().regex(NAME_PATTERN, { error: `invalid ${what} name ${VALUE}: ${NAME_RULE}` });
const envName = z.string().regex(ENV_NAME_PATTERN, {
  error: `invalid environment variable name ${VALUE}: use letters, digits and "_", not starting with a digit`,
});

const httpUrl = checked('invalid URL', (v) => urlProblem(v, ['http', 'https']));
const amqpUrl = checked('invalid URL', (v) => urlProblem(v, ['amqp', 'amqps']));
const branchPattern = checked('invalid branch pattern', branchPatternProblem);
const glob = checked('invalid glob', globProblem);
const workspaceGlob = checked('invalid path', workspacePathProblem);
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const envMap = z.record(envName, scalar).meta({
  description: 'Environment variables for the steps. `${env:NAME}` values are secret and masked.',
});

/**
 * A `url` key whose host is an IP literal the outbound guard would refuse: an error at `check`
 * rather than a dead delivery later.
 */
function refusedUrl(key: string) {
  return (obj: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const url = obj[key];
    if (typeof url !== 'string') return;
    const p = refusedAddressProblem(url, obj['allow_private'] === true);
    if (p !== null)
      ctx.addIssue({ code: 'custom', path: [key], message: `refused URL ${VALUE}: ${p}` });
  };
}

/** The SSRF guard's opt-in (docs/pipeline.md, "Private addresses"). */
const allowPrivate = (what: string) =>
  z
    .boolean()
    .optional()
    .meta({
      description: `Allow ${what} loopback and private addresses (127.0.0.0/8, 10/8, 172.16/12, 192.168/16, fc00::/7, ...). Link-local and cloud metadata addresses stay refused.`,
      default: false,
    });

const webhookSecret = secretText.optional().meta({
  description:
    'Shared secret that signs incoming webhooks (usually `${env:NAME}`); must not be empty. Without it the source takes no webhooks.',
});

const gitSource = strict({
  git: nonEmpty.meta({ description: 'Repository URL, local path or bare repository.' }),
  branch: branchPattern
    .optional()
    .meta({ description: 'The one branch to follow (shorthand for `branches: [NAME]`).' }),
  branches: z
    .array(branchPattern)
    .min(1, { error: 'list at least one branch pattern' })
    .optional()
    .meta({
      description: 'Branch patterns to follow (`main`, `release/*`).',
      default: [...DEFAULTS.branches],
    }),
  webhook_secret: webhookSecret,
  fallback_poll: durOff(
    'How often `git ls-remote` checks for a missed event; `off` disables.',
    DEFAULTS.fallbackPoll,
  ),
  quiet_period: durOff('Wait this long for a burst of versions to settle.', DEFAULTS.quietPeriod),
})
  .superRefine((src, ctx) => {
    if (src.branch !== undefined && src.branches !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['branches'],
        message: 'use either branch or branches, not both',
      });
    }
  })
  .meta({ title: 'git source' });

const httpSource = strict({
  http: httpUrl.meta({
    description: 'The resource; its version is its ETag or the sha256 of its body.',
  }),
  headers: z
    .record(z.string(), scalar)
    .optional()
    .meta({ description: 'Request headers (e.g. an Authorization from `${env:...}`).' }),
  webhook_secret: webhookSecret,
  fallback_poll: durOff(
    'How often a conditional GET checks for a missed event; `off` disables.',
    DEFAULTS.fallbackPoll,
  ),
  max_size: size.optional().meta({
    description: 'Largest body accepted (bytes or `10MB`-style).',
    default: DEFAULTS.maxSize,
  }),
  quiet_period: durOff('Wait this long for a burst of versions to settle.', DEFAULTS.quietPeriod),
  allow_private: allowPrivate('the checks of this source to reach'),
})
  .superRefine(refusedUrl('http'))
  .meta({ title: 'http source' });

const amqpSource = strict({
  amqp: strict({
    url: amqpUrl.meta({
      description: 'Broker URL (`amqp://` or `amqps://`), usually `${env:AMQP_URL}`.',
    }),
    exchange: nonEmpty.meta({ description: 'Exchange to bind to.' }),
    routing_key: nonEmpty
      .optional()
      .meta({ description: 'Binding key.', default: DEFAULTS.routingKey }),
    queue_expires: duration(true)
      .refine(
        (v) => {
          if (v === false || v === 'off') return true;
          const r = parseDuration(v);
          return !r.ok || r.ms >= 1_000;
        },
        { error: `invalid queue_expires ${VALUE}: use at least 1s, or off` },
      )
      .optional()
      .meta({
        description:
          'The broker deletes the queue after it has had no consumer this long (RabbitMQ ' +
          '`x-expires`); `off` keeps it forever. Changing it on an existing queue needs that ' +
          'queue deleted first (docs/ingest.md).',
        default: DEFAULTS.queueExpires,
      }),
    match: z
      .record(
        z.string().regex(/^[^.\s]+(?:\.[^.\s]+)*$/, {
          error: `invalid match path ${VALUE}: use a dotted path such as build.tag`,
        }),
        scalar,
      )
      .optional()
      .meta({ description: 'Dotted paths into the JSON body and the values they must equal.' }),
    version: checked('invalid version template', (v) => {
      const r = parseVersionTemplate(v);
      return r.ok ? null : r.reason;
    }).meta({
      description:
        'Version built from the message: `{version}-{release}` (placeholders are dotted paths).',
    }),
  }),
  quiet_period: durOff('Wait this long for a burst of messages to settle.', DEFAULTS.quietPeriod),
}).meta({ title: 'amqp source' });

export const sourceSchema = kinds(['git', 'http', 'amqp'], [gitSource, httpSource, amqpSource]);

const stepObject = strict({
  run: nonEmpty.meta({
    description:
      'Shell command(s). Input versions arrive as environment variables, never spliced in.',
  }),
  name: nonEmpty
    .optional()
    .meta({ description: 'Shown in logs and statuses; defaults to the first line of `run`.' }),
  env: envMap.optional(),
  timeout: durOff('Step timeout (the job timeout still applies).', 'off'),
});

const step = z
  .union([nonEmpty, stepObject])
  .meta({ description: 'A command, or `{run, name, env, timeout}`.' });

const outputGlobs = z.union([
  workspaceGlob,
  z.array(workspaceGlob).min(1, { error: 'list at least one glob' }),
]);

const coverage = kinds(
  ['lcov', 'cobertura', 'istanbul'],
  [
    strict({ lcov: workspaceGlob }),
    strict({ cobertura: workspaceGlob }),
    strict({ istanbul: workspaceGlob }),
  ],
).meta({
  description: 'Coverage report to read after the steps: exactly one of lcov, cobertura, istanbul.',
});

const port = z
  .number()
  .int({ error: `invalid port ${VALUE}: must be a whole number between 1 and 65535` })
  .min(1, { error: `invalid port ${VALUE}: must be between 1 and 65535` })
  .max(65535, { error: `invalid port ${VALUE}: must be between 1 and 65535` });

const sftp = strict({
  host: nonEmpty,
  port: port.optional().meta({ default: DEFAULTS.sftpPort }),
  user: nonEmpty,
  path: nonEmpty.meta({ description: 'Remote directory; each build publishes into it.' }),
  private_key: secretText
    .optional()
    .meta({ description: 'Private key (PEM text), usually `${env:NAME}`. Secret.' }),
  password: secretText.optional().meta({ description: 'Password, usually `${env:NAME}`. Secret.' }),
  // Required: nightless never trusts a host on first use, so without it nothing could be sent.
  host_key: z
    .string({
      error: (iss) =>
        iss.input === undefined
          ? "nightless never trusts a host on first use; add the server's key (`ssh-keyscan -t ed25519 HOST`) or its SHA256: fingerprint"
          : undefined,
    })
    .min(1, { error: 'must not be empty' })
    .meta({
      description:
        'Expected host key: a public key (`ssh-ed25519 AAAA...`), a known_hosts line or a `SHA256:...` fingerprint (`ssh-keyscan HOST | ssh-keygen -lf -`). Required.',
    }),
  connect_timeout: dur('Fail fast when the host does not answer.', DEFAULTS.sftpConnectTimeout),
});

const publish = kinds(['sftp'], [strict({ sftp })]);

const buildCount = (what: string) =>
  z
    .number()
    .int({ error: `invalid ${what} ${VALUE}: must be a whole number of builds` })
    .min(1, { error: `invalid ${what} ${VALUE}: keep at least 1 build` })
    .max(1_000_000, { error: `invalid ${what} ${VALUE}: at most 1000000 builds` });

const retention = strict({
  builds: buildCount('builds')
    .optional()
    .meta({ description: 'Newest builds kept per job (rows, logs, decisions, events, reports).' }),
  age: duration(false, MAX_AGE_MS).optional().meta({
    description: 'Builds older than this are deleted (`30d`, `12h`, or seconds).',
  }),
  artifacts: buildCount('artifacts').optional().meta({
    description: 'Newest builds per job whose output files are kept (never more than `builds`).',
    default: DEFAULT_ARTIFACT_BUILDS,
  }),
}).meta({
  description:
    'What history to keep; the newest passed build of a job, queued/running builds and what they reference are always kept. ' +
    `Default: everything but output files beyond ${DEFAULT_ARTIFACT_BUILDS} builds per job.`,
});

export const jobSchema = strict({
  inputs: z.array(z.string()).optional().meta({
    description:
      'Sources this job consumes: source names, or `job.output` for another job’s output.',
  }),
  steps: z.array(step).min(1, { error: 'a job needs at least one step' }),
  env: envMap.optional(),
  timeout: durOff('Total time allowed for the steps.', DEFAULTS.jobTimeout),
  no_output_timeout: durOff(
    'Fail when no log output appears for this long.',
    DEFAULTS.noOutputTimeout,
  ),
  outputs: z.record(name('output'), outputGlobs).optional().meta({
    description:
      'Output name → glob(s) relative to the workspace. Other jobs consume `job.output`.',
  }),
  coverage: coverage.optional(),
  publish: z
    .array(publish)
    .optional()
    .meta({ description: 'Where to copy the outputs of a passing build.' }),
  branches: z.array(branchPattern).optional().meta({
    description:
      'Only build git versions of these branches (default: every branch the source tracks).',
  }),
  paths: z
    .array(glob)
    .optional()
    .meta({ description: 'Only build when a changed file matches one of these globs.' }),
  paths_ignore: z
    .array(glob)
    .optional()
    .meta({ description: 'Ignore changes that only touch files matching these globs.' }),
  supersede: z.boolean().optional().meta({
    description: 'A newer input set replaces a still-queued build.',
    default: DEFAULTS.supersede,
  }),
  cancel_running: z.boolean().optional().meta({
    description: 'A newer input set cancels a running build.',
    default: DEFAULTS.cancelRunning,
  }),
  concurrency: z
    .number()
    .int({ error: `invalid concurrency ${VALUE}: must be a whole number between 1 and 1000` })
    .min(1, { error: `invalid concurrency ${VALUE}: must be between 1 and 1000` })
    .max(1000, { error: `invalid concurrency ${VALUE}: must be between 1 and 1000` })
    .optional()
    .meta({
      description:
        'Builds of this job that may run at once per branch of its first git input (per job without a git input). With 1, builds of a branch start in order and never overlap.',
      default: DEFAULTS.concurrency,
    }),
  quiet_period: durOff(
    'Wait this long for inputs to settle before queueing.',
    DEFAULTS.quietPeriod,
  ),
  secrets: z.array(envName).optional().meta({
    description: 'Names of server environment variables whose values are masked in logs.',
  }),
  runs_on: z
    .array(
      z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
        error: `invalid label ${VALUE}: use letters, digits and . _ - (starting with a letter or digit)`,
      }),
    )
    .optional()
    .meta({
      description:
        "Labels an agent (`nightless agent --labels`) must all have to run this job; such builds never run on the server's own slots.",
    }),
  retention: retention
    .optional()
    .meta({ description: 'Overrides the pipeline-level `retention` for this job (per key).' }),
});

const attempts = z
  .number()
  .int({ error: `invalid max_attempts ${VALUE}: must be a whole number between 1 and 100` })
  .min(1, { error: `invalid max_attempts ${VALUE}: must be between 1 and 100` })
  .max(100, { error: `invalid max_attempts ${VALUE}: must be between 1 and 100` })
  .optional()
  .meta({
    description: 'Attempts (with exponential backoff and jitter) before a delivery is dead.',
    default: DEFAULTS.reportMaxAttempts,
  });

const report = kinds(
  ['amqp', 'webhook', 'commit_status'],
  [
    strict({ amqp: strict({ url: amqpUrl, exchange: nonEmpty }) }),
    strict({
      webhook: strict({
        url: httpUrl,
        secret: secretText
          .optional()
          .meta({ description: 'HMAC-SHA256 signing secret; must not be empty. Secret.' }),
        connect_timeout: dur('Connect timeout.', DEFAULTS.webhookConnectTimeout),
        timeout: dur('Total request timeout.', DEFAULTS.webhookTimeout),
        max_attempts: attempts,
        follow_redirects: z.boolean().optional().meta({
          description: 'Follow 3xx redirects (at most 5); off by default, a redirect fails.',
          default: false,
        }),
        allow_private: allowPrivate('this webhook (and its redirects) to reach'),
      }).superRefine(refusedUrl('url')),
    }),
    strict({
      commit_status: strict({
        provider: z.enum(['github', 'gitlab', 'gitea']),
        token: secretText.meta({ description: 'API token, usually `${env:NAME}`. Secret.' }),
        base_url: httpUrl.optional().meta({ description: 'API base URL for self-hosted forges.' }),
        context: nonEmpty.optional().meta({ default: DEFAULTS.statusContext }),
        max_attempts: attempts,
        allow_private: allowPrivate('`base_url` to be'),
      }).superRefine(refusedUrl('base_url')),
    }),
  ],
);

export const pipelineFileSchema = strict({
  version: z
    .literal(1, { error: 'unsupported version (this nightless reads version 1)' })
    .optional(),
  pipeline: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, {
      error: `invalid pipeline name ${VALUE}: use lowercase letters, digits and "-" (at most 63)`,
    })
    .optional()
    .meta({ description: 'Pipeline name (default: the directory name).' }),
  sources: z
    .record(name('source'), sourceSchema)
    .optional()
    .meta({ description: 'Things that change: git, http, amqp.' }),
  jobs: z
    .record(name('job'), jobSchema)
    .refine((jobs) => Object.keys(jobs).length > 0, { error: 'declare at least one job' })
    .meta({ description: 'Units of work.' }),
  reports: z
    .array(report)
    .optional()
    .meta({ description: 'Where build events go: amqp, webhook, commit_status.' }),
  retention: retention.optional(),
}).meta({ title: 'nightless pipeline', description: 'nightless.yaml — see docs/pipeline.md' });

export type PipelineFile = z.infer<typeof pipelineFileSchema>;
export type JobFile = z.infer<typeof jobSchema>;
export type SourceFile = z.infer<typeof sourceSchema>;
