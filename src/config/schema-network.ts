import { z } from 'zod';
import { DEFAULTS } from './defaults.js';
import { dur } from './schema-fields.js';
import { strict, VALUE } from './schema-helpers.js';

/** `network:` at the top of the pipeline: the fail-fast limits of nightless' own network work. */
export const network = strict({
  connect_timeout: dur(
    'How long connecting to a remote (git, SFTP) may take before the operation fails as `network`.',
    DEFAULTS.networkConnectTimeout,
  ),
  stall_timeout: dur(
    'How long a connected transfer may receive nothing before it fails as `network`.',
    DEFAULTS.networkStallTimeout,
  ),
}).meta({
  description:
    'Fail-fast limits of every git clone/fetch/ls-remote and SFTP publish: a remote that accepts and never answers ends the build within connect_timeout + stall_timeout as a `network` failure.',
});

/** `retry:` of a job: which failure classes re-run, how many attempts, how long to wait. */
export const retry = strict({
  on: z
    .array(z.enum(['network', 'infrastructure', 'timeout']))
    .min(1, { error: 'name at least one failure class to retry on' })
    .meta({
      description:
        'Failure classes that re-run the build: `network`, `infrastructure`, `timeout` (a failing step, `user`, is never retried).',
    }),
  attempts: z
    .number()
    .int({ error: `invalid attempts ${VALUE}: must be a whole number between 2 and 10` })
    .min(2, { error: `invalid attempts ${VALUE}: must be between 2 and 10 (the first run counts)` })
    .max(10, { error: `invalid attempts ${VALUE}: must be between 2 and 10` })
    .optional()
    .meta({ description: 'Attempts in all, the first included.', default: DEFAULTS.retryAttempts }),
  backoff: dur('Wait before the first retry; doubled for each further one.', DEFAULTS.retryBackoff),
}).meta({
  description:
    'Re-run a build that failed for one of these classes as a new build linked to the first (`retryOf`); its result is reported once, at the end.',
});
