import { z } from 'zod';
import { PayloadError, describeIssues } from '../webhooks/webhook-parse.js';

/**
 * `POST /hooks/generic` body: a source name and, usually, its new version. For an http source
 * the version may be left out: nightless then checks the resource itself (a "poke").
 */
const genericPayload = z.object({
  source: z.string().min(1),
  version: z.string().min(1).max(1024).optional(),
  ref: z.string().min(1).max(1024).optional(),
  changed_paths: z.array(z.string()).max(100_000).optional(),
});

export interface GenericNotice {
  readonly source: string;
  readonly version: string | null;
  readonly ref: string | null;
  readonly changedPaths: readonly string[] | null;
}

export function parseGenericNotice(body: unknown): GenericNotice {
  const res = genericPayload.safeParse(body);
  if (!res.success)
    throw new PayloadError(`invalid generic webhook body: ${describeIssues(res.error.issues)}`);
  const p = res.data;
  return {
    source: p.source,
    version: p.version ?? null,
    ref: p.ref ?? null,
    changedPaths: p.changed_paths ? [...new Set(p.changed_paths)].sort() : null,
  };
}
