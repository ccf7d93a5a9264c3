import { z } from 'zod';

/** A change request as `GET /api/requests` lists it (`core/change-request.ts`). */
export const ChangeRequestSchema = z
  .object({
    source: z.string(),
    number: z.number().int(),
    forge: z.string(),
    title: z.string(),
    author: z.string(),
    target: z.string(),
    headSha: z.string(),
    fork: z.boolean(),
    state: z.enum(['open', 'closed', 'merged']),
    url: z.string().nullable(),
    updatedAt: z.number(),
    /** Whether the current head is approved (only forks need it). */
    approved: z.boolean(),
  })
  .meta({ id: 'ChangeRequest' });

export const ApprovalSchema = z
  .object({
    source: z.string(),
    number: z.number().int(),
    sha: z.string(),
    by: z.string(),
    at: z.number(),
  })
  .meta({ id: 'Approval' });
