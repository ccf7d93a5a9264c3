import type { Build } from '../../core/build.js';
import type { EnvValue, JobDef, NetworkLimits, Pipeline, SourceDef } from '../../core/pipeline.js';
import type { RunInput } from '../../executor/port.js';
import type { QueuePort } from '../../store/ports.js';
import { mergeTargetOf, untrustedReason, type TrustLookup } from '../build-trust.js';

/**
 * What an agent needs to run `build` (JSON): the resolved job, each input with its source
 * definition (without webhook secrets: agents check out, they never verify webhooks) and, for
 * job outputs, the files by digest (the agent downloads the blobs it lacks), the values to mask,
 * the extra environment, the build page link and the pipeline's network limits.
 *
 * An untrusted build (a fork's change request nobody approved, `runner/build-trust.ts`) is run
 * under the same rules as on local slots — `untrusted` makes the agent's executor sandbox its
 * steps (bubblewrap) — and the secrets never leave the server: its job carries no secret env
 * values and there is nothing to mask. The job's `publish:` targets are never sent: the server
 * publishes a passing build's outputs itself, with credentials agents never see.
 */
export interface AgentRunSpec {
  readonly job: JobDef;
  readonly inputs: readonly RunInput[];
  readonly secretValues: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly buildUrl: string;
  readonly untrusted?: string;
  readonly network?: NetworkLimits;
}

export async function runSpecFor(
  build: Build,
  pipeline: Pipeline,
  deps: {
    readonly queue: Pick<QueuePort, 'outputFiles'>;
    readonly secret: (name: string) => string | undefined;
    readonly buildUrl: (id: number) => string;
    readonly requests?: TrustLookup;
  },
): Promise<AgentRunSpec | { readonly missing: string }> {
  const job = pipeline.jobs.get(build.job);
  if (!job) return { missing: `job "${build.job}" is no longer in the pipeline` };
  const inputs: RunInput[] = [];
  for (const input of build.inputs) {
    const def = pipeline.sources.get(input.source);
    if (!def) return { missing: `source "${input.source}" is no longer in the pipeline` };
    const files =
      def.kind === 'job-output' ? await deps.queue.outputFiles(input.source, input.version) : [];
    const mergeTarget = await mergeTargetOf(deps.requests, input, def);
    inputs.push({
      ...input,
      def: withoutWebhookSecret(def),
      files,
      ...(mergeTarget ? { mergeTarget } : {}),
    });
  }
  const untrusted = await untrustedReason(deps.requests, build.inputs);
  return {
    job: untrusted === null ? { ...job, publish: [] } : withoutSecrets(job),
    inputs,
    secretValues:
      untrusted === null
        ? [
            ...pipeline.secretValues,
            ...job.secrets.map((name) => deps.secret(name) ?? '').filter((v) => v !== ''),
          ]
        : [],
    env: { NIGHTLESS_PIPELINE: pipeline.name },
    buildUrl: deps.buildUrl(build.id),
    ...(untrusted === null ? {} : { untrusted }),
    ...(pipeline.network ? { network: pipeline.network } : {}),
  };
}

function withoutWebhookSecret(def: SourceDef): SourceDef {
  return 'webhookSecret' in def ? { ...def, webhookSecret: null } : def;
}

/** The job as an untrusted build may see it: no secret env values, no publish targets. */
function withoutSecrets(job: JobDef): JobDef {
  const open = (env: Readonly<Record<string, EnvValue>>) =>
    Object.fromEntries(Object.entries(env).filter(([, v]) => !v.secret));
  return {
    ...job,
    env: open(job.env),
    steps: job.steps.map((s) => ({ ...s, env: open(s.env) })),
    publish: [],
    secrets: [],
  };
}
