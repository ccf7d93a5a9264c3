import { z } from 'zod';

/** Agent names end up in builds' `worker` and in logs: printable and short. */
export const AgentName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}$/, {
  message: 'use 1–100 letters, digits and . _ : @ - (starting with a letter or digit)',
});

const Label = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
  message: 'labels use letters, digits and . _ - (starting with a letter or digit)',
});

/** Who the agent is; sent with every claim and heartbeat (the server lists it). */
export const AgentHello = z.object({
  name: AgentName,
  labels: z.array(Label).max(64).readonly(),
  slots: z.number().int().min(1).max(1000),
  version: z.string().min(1).max(100),
  running: z
    .array(z.number().int().positive())
    .max(1000)
    .readonly()
    .meta({ description: 'Builds the agent runs now (their leases are renewed).' }),
});

export const ClaimRequest = AgentHello.extend({
  waitMs: z
    .number()
    .int()
    .min(0)
    .max(60_000)
    .meta({ description: 'Wait this long for a build before answering `build: null`.' }),
});

export const ClaimedBuild = z
  .object({
    id: z.number().int(),
    job: z.string(),
    attempt: z.number().int(),
    spec: z.unknown().meta({
      description:
        'What the executor needs: the resolved job, the inputs (with their source definitions and, for job outputs, the files by digest), values to mask, extra environment.',
    }),
  })
  .meta({ id: 'ClaimedBuild' });

export const ClaimResponse = z.object({
  build: ClaimedBuild.nullable(),
  leaseMs: z.number().int().meta({ description: 'Heartbeat well within this.' }),
});

export const HeartbeatResponse = z.object({
  keep: z.array(z.number().int()).readonly(),
  discard: z.array(z.number().int()).readonly().meta({
    description: 'Builds the agent lost (lease expired): kill the step, drop the result.',
  }),
  cancel: z
    .array(z.object({ id: z.number().int(), reason: z.string() }))
    .readonly()
    .meta({ description: 'Builds someone cancelled: kill them and report `cancelled`.' }),
  leaseMs: z.number().int(),
});

export const FinishRequest = z.object({
  agent: AgentName,
  result: z.unknown().meta({ description: "The executor's RunResult." }),
  logBytes: z.number().int().min(0),
});

export const AgentSchema = z
  .object({
    name: z.string(),
    labels: z.array(z.string()).readonly(),
    slots: z.number().int(),
    version: z.string(),
    lastHeartbeatAt: z.number().int(),
    firstSeenAt: z.number().int(),
    running: z.array(z.object({ id: z.number().int(), job: z.string() })).readonly(),
  })
  .meta({ id: 'Agent' });

export const AgentsResponse = z.object({ agents: z.array(AgentSchema).readonly() });
