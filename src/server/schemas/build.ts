import { z } from 'zod';
import { EVENT_ORIGINS, FINISHED_STATES } from '../../core/build.js';
import { FAILURE_CLASSES } from '../../core/failure-class.js';

/**
 * Response schemas of the build types (`core/build.ts`, `store/ports.ts`). The `id` metadata
 * makes them named components of the OpenAPI document. Arrays are `readonly` because the store
 * hands out readonly arrays; in the document that shows as `readOnly`, which responses are anyway.
 */

export const BuildStateSchema = z
  .enum(['queued', 'running', ...FINISHED_STATES])
  .meta({ id: 'BuildState' });

export const FailureClassSchema = z.enum(FAILURE_CLASSES).meta({ id: 'FailureClass' });

export const EventOriginSchema = z.enum(EVENT_ORIGINS);

export const BuildInputSchema = z
  .object({
    source: z.string(),
    version: z.string(),
    origin: EventOriginSchema.nullable(),
    eventId: z.number().int().nullable(),
    ref: z.string().nullable().meta({ description: 'The branch of a git version, when known.' }),
  })
  .meta({ id: 'BuildInputVersion', description: 'One input of a build: a version of a source.' });

export const BuildCauseSchema = z
  .discriminatedUnion('kind', [
    z.object({
      kind: z.literal('version'),
      source: z.string(),
      version: z.string(),
      eventId: z.number().int().nullable(),
    }),
    z.object({ kind: z.literal('definition') }),
    z.object({
      kind: z.literal('manual'),
      forced: z.boolean(),
      by: z.string().nullable(),
      pins: z
        .array(z.object({ source: z.string(), version: z.string(), ref: z.string().nullable() }))
        .readonly()
        .optional()
        .meta({ description: 'Inputs the trigger pinned to a version (absent: none).' }),
      rebuildOf: z
        .number()
        .int()
        .optional()
        .meta({ description: 'The build whose input set a rebuild repeats.' }),
    }),
    z.object({ kind: z.literal('retry'), previousBuild: z.number().int() }),
    z.object({ kind: z.literal('settled'), quietPeriodMs: z.number() }),
  ])
  .meta({ id: 'BuildCause', description: 'Why the build exists.' });

export const CoverageSchema = z.object({
  lines: z.number().nullable(),
  branches: z.number().nullable(),
  linesDelta: z.number().nullable(),
  branchesDelta: z.number().nullable(),
});

export const BuildSchema = z
  .object({
    id: z.number().int(),
    job: z.string(),
    state: BuildStateSchema,
    fingerprint: z.string(),
    inputs: z.array(BuildInputSchema).readonly(),
    cause: BuildCauseSchema,
    forced: z.boolean(),
    queuedAt: z.number().meta({ description: 'Epoch milliseconds.' }),
    startedAt: z.number().nullable(),
    finishedAt: z.number().nullable(),
    failedStep: z.string().nullable(),
    reason: z.string().nullable(),
    failureClass: FailureClassSchema.nullable().meta({
      description:
        'Whose failure it is: `user` (a step exited non-zero), `timeout`, `network`, `infrastructure`, `cancelled`, `superseded`; `null` while active and for passed/skipped builds.',
    }),
    relatedBuild: z.number().int().nullable().meta({
      description: '`superseded` → the build that replaced it; `skipped` → the identical build.',
    }),
    exitCode: z.number().int().nullable(),
    coverage: CoverageSchema.nullable(),
    attempt: z.number().int(),
    concurrencyGroup: z.string().meta({
      description:
        'The job and the branch of its first git input (`build@main`), or the job alone: `concurrency` counts running builds per group.',
    }),
    url: z.string().meta({
      description:
        "The build's page in the dashboard, under the server's `--public-url`: the link commit statuses, CloudEvents and `NIGHTLESS_BUILD_URL` carry too.",
    }),
    apiUrl: z.string().meta({ description: 'This build as JSON: `GET /api/builds/:id`.' }),
  })
  .meta({ id: 'Build' });

export const ArtifactFileSchema = z
  .object({
    path: z.string().meta({ description: 'Relative to the output root, `/`-separated.' }),
    digest: z.string().meta({
      description:
        "The file's sha256 (hex), what `sha256sum` prints. Not the output digest, which hashes the whole file list.",
    }),
    size: z.number().int(),
  })
  .meta({ id: 'ArtifactFile' });

export const BuildDetailSchema = BuildSchema.extend({
  outputs: z
    .array(
      z.object({
        name: z.string(),
        digest: z.string().meta({
          description:
            "The output digest: sha256 over the lines `<path> <file sha256>` sorted by path; the version downstream jobs see. Differs from a file's sha256 even for a one-file output.",
        }),
        files: z.array(ArtifactFileSchema).readonly(),
      }),
    )
    .readonly(),
  warnings: z.array(z.string()).readonly(),
  logBytes: z.number().int(),
  definitionHash: z.string(),
  worker: z.string().nullable(),
}).meta({ id: 'BuildDetail' });
