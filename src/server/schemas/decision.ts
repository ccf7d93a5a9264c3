import { z } from 'zod';
import type { Rule } from '../../core/scheduler/index.js';

const RULES = [
  'new-version',
  'duplicate',
  'early-cutoff',
  'built',
  'forced',
  'definition-changed',
  'settled',
  'same-fingerprint',
  'filtered-branch',
  'filtered-paths',
  'deferred',
  'waiting-input',
  'unknown-source',
  'unknown-job',
] as const satisfies readonly Rule[];

// Fails to compile when the scheduler gains a rule this list (and so the API document) lacks.
const everyRuleListed: [Exclude<Rule, (typeof RULES)[number]>] extends [never] ? true : false =
  true;
void everyRuleListed;

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
