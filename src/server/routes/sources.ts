import { z } from 'zod';
import type { SourceDef } from '../../core/pipeline.js';
import type { SourceStatus } from '../../store/ports.js';
import type { ApiApp, RouteContext } from '../options.js';
import { displayUrl, redactText } from '../../core/redact.js';
import { commonErrors } from '../schemas/error.js';
import { SourceSchema } from '../schemas/source.js';
import { queueName } from '../../ingest/amqp/queue-name.js';
import { readInstallationId } from '../../store/installation-id.js';

type SourceView = z.input<typeof SourceSchema>;

/** `GET /api/sources`: the pipeline's sources with what the store knows of each. */
export function sourceRoutes(app: ApiApp, ctx: RouteContext): void {
  app.get(
    '/api/sources',
    {
      schema: {
        tags: ['sources'],
        summary: 'Sources of the pipeline, their heads and fallback-poll health',
        response: { 200: z.object({ sources: z.array(SourceSchema) }), ...commonErrors },
      },
    },
    async () => {
      const { engine } = ctx.opts;
      const stored = new Map((await engine.store.listSources()).map((s) => [s.name, s]));
      const secrets = engine.pipeline.secretValues;
      const defs = [...engine.pipeline.sources.values()];
      const installation = defs.some((d) => d.kind === 'amqp')
        ? await readInstallationId(engine.store)
        : '';
      // The pipeline decides what is listed: sources removed from it keep history in the store only.
      const sources = defs.map((def) => toView(def, stored.get(def.name), secrets, installation));
      return { sources };
    },
  );
}

function toView(
  def: SourceDef,
  status: SourceStatus | undefined,
  secrets: readonly string[],
  installation: string,
): SourceView {
  const url = def.kind === 'job-output' ? null : displayUrl(def.url, secrets);
  const fallbackPollMs = def.kind === 'git' || def.kind === 'http' ? def.fallbackPollMs : null;
  return {
    name: def.name,
    kind: def.kind,
    url,
    ...(def.kind === 'git' ? { branches: def.branches } : {}),
    ...(def.kind === 'amqp' ? { queue: queueName(installation, def.name) } : {}),
    fallbackPollMs,
    heads: status?.heads ?? [],
    nextCheckAt: status?.nextCheckAt ?? null,
    lastCheckAt: status?.lastCheckAt ?? null,
    lastCheckOk: status?.lastCheckOk ?? null,
    lastError: status?.lastError == null ? null : redactText(status.lastError, secrets),
    pollFailures: status?.pollFailures ?? 0,
    missedEvents: status?.missedEvents ?? 0,
    eventsReceived: status?.eventsReceived ?? 0,
    lastEventAt: status?.lastEventAt ?? null,
  };
}
