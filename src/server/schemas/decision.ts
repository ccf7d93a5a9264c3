import { z } from 'zod';
import { RULES } from '../../core/scheduler/index.js';

export const DecisionRecordSchema = z
  .object({
    id: z.number().int(),
    eventId: z.number().int().nullable(),
    job: z.string().nullable(),
    rule: z.enum(RULES),
    source: z.string().nullable(),
    version: z.string().nullable(),
    buildId: z.number().int().nullable(),
    detail: z.string().meta({ description: 'One sentence for people.' }),
    at: z.number(),
    origin: z.string().nullable(),
  })
  .meta({
    id: 'DecisionRecord',
    description: 'One scheduler decision, as `nightless why` shows it.',
  });

export const AncestrySchema = z
  .object({
    relation: z.enum(['ancestor', 'descendant', 'unrelated', 'unknown']),
    head: z.string().meta({ description: 'The head the version was compared with.' }),
    reason: z.string().optional().meta({ description: 'Why it is unknown.' }),
  })
  .meta({
    id: 'Ancestry',
    description:
      'How a git version relates to the head of its source and branch, asked of the git mirror just before deciding.',
  });

export const EventRecordSchema = z
  .object({
    id: z.number().int(),
    kind: z.enum(['source', 'trigger', 'reconcile', 'settle']),
    source: z.string().nullable(),
    version: z.string().nullable(),
    ref: z.string().nullable(),
    origin: z.string(),
    deliveryId: z.string().nullable(),
    receivedAt: z.number(),
    processedAt: z.number().nullable().meta({ description: 'null while it waits in the inbox.' }),
    outcome: z.string().nullable().meta({ description: 'The rule that decided it.' }),
    changedPaths: z
      .array(z.string())
      .readonly()
      .nullable()
      .meta({ description: 'null = unknown: every path filter passes.' }),
    ancestry: AncestrySchema.nullable(),
    job: z.string().nullable().meta({ description: 'Trigger and settle events: the job.' }),
  })
  .meta({ id: 'EventRecord', description: 'One inbox event as stored.' });
