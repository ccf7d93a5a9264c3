import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { parseDuration } from './durations.js';
import { kinds, strict, VALUE } from './schema-helpers.js';
import {
  allowPrivate,
  amqpUrl,
  branchPattern,
  checked,
  duration,
  durOff,
  httpUrl,
  nonEmpty,
  refusedUrl,
  scalar,
  secretText,
  size,
} from './schema-fields.js';
import { parseVersionTemplate } from './version-template.js';
import { changeRequests } from './change-requests-schema.js';

// The `sources:` section: one shape per kind of source, next to nothing else, so a new kind of
// source (DESIGN.md, integrations as driver folders) adds a shape here without touching jobs.

const webhookSecret = secretText.optional().meta({
  description:
    'Shared secret that signs incoming webhooks (usually `${env:NAME}`); must not be empty. Without it the source takes no webhooks.',
});

const gitSource = strict({
  git: nonEmpty.meta({ description: 'Repository URL, local path or bare repository.' }),
  branch: branchPattern
    .optional()
    .meta({ description: 'The one branch to follow (shorthand for `branches: [NAME]`).' }),
  branches: z
    .array(branchPattern)
    .min(1, { error: 'list at least one branch pattern' })
    .optional()
    .meta({
      description: 'Branch patterns to follow (`main`, `release/*`).',
      default: [...DEFAULTS.branches],
    }),
  webhook_secret: webhookSecret,
  fallback_poll: durOff(
    'How often `git ls-remote` checks for a missed event; `off` disables.',
    DEFAULTS.fallbackPoll,
  ),
  quiet_period: durOff('Wait this long for a burst of versions to settle.', DEFAULTS.quietPeriod),
  change_requests: changeRequests.optional(),
})
  .superRefine((src, ctx) => {
    if (src.branch !== undefined && src.branches !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['branches'],
        message: 'use either branch or branches, not both',
      });
    }
  })
  .meta({ title: 'git source' });

const httpSource = strict({
  http: httpUrl.meta({
    description: 'The resource; its version is its ETag or the sha256 of its body.',
  }),
  headers: z
    .record(z.string(), scalar)
    .optional()
    .meta({ description: 'Request headers (e.g. an Authorization from `${env:...}`).' }),
  webhook_secret: webhookSecret,
  fallback_poll: durOff(
    'How often a conditional GET checks for a missed event; `off` disables.',
    DEFAULTS.fallbackPoll,
  ),
  max_size: size.optional().meta({
    description: 'Largest body accepted (bytes or `10MB`-style).',
    default: DEFAULTS.maxSize,
  }),
  quiet_period: durOff('Wait this long for a burst of versions to settle.', DEFAULTS.quietPeriod),
  allow_private: allowPrivate('the checks of this source to reach'),
})
  .superRefine(refusedUrl('http'))
  .meta({ title: 'http source' });

const amqpSource = strict({
  amqp: strict({
    url: amqpUrl.meta({
      description: 'Broker URL (`amqp://` or `amqps://`), usually `${env:AMQP_URL}`.',
    }),
    exchange: nonEmpty.meta({ description: 'Exchange to bind to.' }),
    routing_key: nonEmpty
      .optional()
      .meta({ description: 'Binding key.', default: DEFAULTS.routingKey }),
    queue_expires: duration(true)
      .refine(
        (v) => {
          if (v === false || v === 'off') return true;
          const r = parseDuration(v);
          return !r.ok || r.ms >= 1_000;
        },
        { error: `invalid queue_expires ${VALUE}: use at least 1s, or off` },
      )
      .optional()
      .meta({
        description:
          'The broker deletes the queue after it has had no consumer this long (RabbitMQ ' +
          '`x-expires`); `off` keeps it forever. Changing it on an existing queue needs that ' +
          'queue deleted first (docs/ingest.md).',
        default: DEFAULTS.queueExpires,
      }),
    match: z
      .record(
        z.string().regex(/^[^.\s]+(?:\.[^.\s]+)*$/, {
          error: `invalid match path ${VALUE}: use a dotted path such as build.tag`,
        }),
        scalar,
      )
      .optional()
      .meta({ description: 'Dotted paths into the JSON body and the values they must equal.' }),
    version: checked('invalid version template', (v) => {
      const r = parseVersionTemplate(v);
      return r.ok ? null : r.reason;
    }).meta({
      description:
        'Version built from the message: `{version}-{release}` (placeholders are dotted paths).',
    }),
  }),
  quiet_period: durOff('Wait this long for a burst of messages to settle.', DEFAULTS.quietPeriod),
}).meta({ title: 'amqp source' });

export const sourceSchema = kinds(['git', 'http', 'amqp'], [gitSource, httpSource, amqpSource]);
