import { z } from 'zod';

/** `GET /api/deliveries`: one delivery of a report to a target. */
export const DeliverySchema = z
  .object({
    id: z.number().int(),
    outboxId: z.number().int(),
    target: z.string(),
    state: z.enum(['pending', 'delivered', 'dead']),
    attempts: z.number().int(),
    nextAttemptAt: z.number().nullable(),
    lastError: z.string().nullable(),
    createdAt: z.number(),
    deliveredAt: z.number().nullable(),
    buildId: z.number().int(),
    type: z.string(),
  })
  .meta({ id: 'Delivery' });

export const ReportTargetSchema = z
  .object({
    target: z.string(),
    kind: z.string(),
    description: z.string().nullable(),
    active: z.boolean(),
    position: z.number().int(),
    behind: z.number().int(),
    lastError: z.string().nullable(),
  })
  .meta({ id: 'ReportTarget' });
