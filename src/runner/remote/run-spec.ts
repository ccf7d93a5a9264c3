import type { Build } from '../../core/build.js';
import type { Pipeline, SourceDef } from '../../core/pipeline.js';
import type { RunInput } from '../../executor/port.js';
import type { QueuePort } from '../../store/ports.js';

/**
 * What an agent needs to run `build` (JSON): the resolved job, each input with its source
 * definition (without webhook secrets: agents check out, they never verify webhooks) and, for
 * job outputs, the files by digest (the agent downloads the blobs it lacks), the values to mask,
 * the extra environment and the build page link.
 */
export interface AgentRunSpec {
  readonly job: NonNullable<ReturnType<Pipeline['jobs']['get']>>;
  readonly inputs: readonly RunInput[];
  readonly secretValues: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly buildUrl: string;
}

export async function runSpecFor(
  build: Build,
  pipeline: Pipeline,
  deps: {
    readonly queue: Pick<QueuePort, 'outputFiles'>;
    readonly secret: (name: string) => string | undefined;
    readonly buildUrl: (id: number) => string;
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
    inputs.push({ ...input, def: withoutWebhookSecret(def), files });
  }
  return {
    job,
    inputs,
    secretValues: [
      ...pipeline.secretValues,
      ...job.secrets.map((name) => deps.secret(name) ?? '').filter((v) => v !== ''),
    ],
    env: { NIGHTLESS_PIPELINE: pipeline.name },
    buildUrl: deps.buildUrl(build.id),
  };
}

function withoutWebhookSecret(def: SourceDef): SourceDef {
  return 'webhookSecret' in def ? { ...def, webhookSecret: null } : def;
}
