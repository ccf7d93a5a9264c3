import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { kinds, strict, VALUE } from './schema-helpers.js';
import {
  allowPrivate,
  amqpUrl,
  dur,
  httpUrl,
  nonEmpty,
  refusedUrl,
  secretText,
} from './schema-fields.js';

// The `reports:` section: where build events go, with each reporter's delivery settings.

const attempts = z
  .number()
  .int({ error: `invalid max_attempts ${VALUE}: must be a whole number between 1 and 100` })
  .min(1, { error: `invalid max_attempts ${VALUE}: must be between 1 and 100` })
  .max(100, { error: `invalid max_attempts ${VALUE}: must be between 1 and 100` })
  .optional()
  .meta({
    description: 'Attempts (with exponential backoff and jitter) before a delivery is dead.',
    default: DEFAULTS.reportMaxAttempts,
  });

export const reportSchema = kinds(
  ['amqp', 'webhook', 'commit_status'],
  [
    strict({ amqp: strict({ url: amqpUrl, exchange: nonEmpty }) }),
    strict({
      webhook: strict({
        url: httpUrl,
        secret: secretText
          .optional()
          .meta({ description: 'HMAC-SHA256 signing secret; must not be empty. Secret.' }),
        connect_timeout: dur('Connect timeout.', DEFAULTS.webhookConnectTimeout),
        timeout: dur('Total request timeout.', DEFAULTS.webhookTimeout),
        max_attempts: attempts,
        follow_redirects: z.boolean().optional().meta({
          description: 'Follow 3xx redirects (at most 5); off by default, a redirect fails.',
          default: false,
        }),
        allow_private: allowPrivate('this webhook (and its redirects) to reach'),
      }).superRefine(refusedUrl('url')),
    }),
    strict({
      commit_status: strict({
        provider: z.enum(['github', 'gitlab', 'gitea']),
        token: secretText.meta({ description: 'API token, usually `${env:NAME}`. Secret.' }),
        base_url: httpUrl.optional().meta({ description: 'API base URL for self-hosted forges.' }),
        context: nonEmpty.optional().meta({ default: DEFAULTS.statusContext }),
        max_attempts: attempts,
        allow_private: allowPrivate('`base_url` to be'),
      }).superRefine(refusedUrl('base_url')),
    }),
  ],
);
