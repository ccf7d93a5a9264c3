import { z } from 'zod';
import { DEFAULT_ARTIFACT_BUILDS } from '../core/retention.js';
import { DEFAULTS } from './defaults.js';
import { MAX_AGE_MS } from './durations.js';
import { reportSchema as report } from './report-schema.js';
import { kinds, strict, VALUE } from './schema-helpers.js';
import {
  branchPattern,
  dur,
  duration,
  durOff,
  envMap,
  envName,
  glob,
  name,
  nonEmpty,
  secretText,
  workspaceGlob,
} from './schema-fields.js';
import { sourceSchema } from './source-schema.js';
import { network, retry } from './schema-network.js';
import { slos } from './schema-slo.js';

/**
 * The pipeline file as written: the single source of truth for validation and for
 * `schema/nightless.schema.json` (editor completion). It checks shape and syntax only;
 * defaults, durations in ms and references are the resolver's job (`resolve.ts`).
 */

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
  stall_timeout: dur(
    'Give up a transfer that receives nothing for this long (default: the pipeline `network.stall_timeout`).',
    DEFAULTS.networkStallTimeout,
  ),
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
  isolation: z.enum(['sandbox', 'none']).optional().meta({
    description:
      '`sandbox`: steps run under bubblewrap — read-only system, writable workspace and private /tmp, no data directory, no server environment, fresh PID namespace, no network unless `network: true`. `none`: plain processes. Default: `sandbox` for untrusted change requests (forks), `none` otherwise.',
  }),
  network: z.boolean().optional().meta({
    description: 'Let sandboxed steps use the network (`isolation: sandbox` only).',
    default: false,
  }),
  workspace: z.enum(['warm', 'fresh']).optional().meta({
    description:
      "`warm`: the job's next build starts in the last passing build's tree, moved to its commit (checkout --force + clean -ffdx: nothing untracked stays). `fresh`: a new checkout in an empty directory every build.",
    default: DEFAULTS.workspace,
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
  retry: retry.optional(),
});
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
  network: network.optional(),
  slos: slos.optional(),
}).meta({ title: 'nightless pipeline', description: 'nightless.yaml — see docs/pipeline.md' });

export type PipelineFile = z.infer<typeof pipelineFileSchema>;
export type JobFile = z.infer<typeof jobSchema>;
export type SourceFile = z.infer<typeof sourceSchema>;
