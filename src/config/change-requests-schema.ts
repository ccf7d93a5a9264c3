import { z } from 'zod';
import { strict } from './schema-helpers.js';
import {
  allowPrivate,
  branchPattern,
  httpUrl,
  nonEmpty,
  refusedUrl,
  secretText,
} from './schema-fields.js';

/** A git source's `change_requests:` (docs/change-requests.md). */
export const changeRequests = z
  .union([
    z.boolean(),
    z.array(branchPattern).min(1, { error: 'list at least one target branch pattern' }),
    strict({
      targets: z
        .array(branchPattern)
        .min(1, { error: 'list at least one target branch pattern' })
        .optional()
        .meta({ description: 'Target-branch patterns (default: every target).', default: ['**'] }),
      checkout: z.enum(['head', 'merge']).optional().meta({
        description:
          '`head`: build the request head; `merge`: build the merge result with the target (docs/change-requests.md).',
        default: 'head',
      }),
      forge: z.enum(['github', 'gitlab', 'gitea']).optional().meta({
        description: 'The forge serving the repository (merge refs, fallback poll).',
      }),
      api_url: httpUrl.optional().meta({
        description:
          'REST API base for the fallback poll of open requests (`https://api.github.com`, `https://HOST/api/v4`, `https://HOST/api/v1`).',
      }),
      project: nonEmpty
        .optional()
        .meta({ description: '`owner/repo` (GitHub, Gitea) or `group/project` (GitLab).' }),
      token: secretText
        .optional()
        .meta({ description: 'API token for the poll, usually `${env:NAME}`. Secret.' }),
      allow_private: allowPrivate('`api_url` to be'),
    })
      .superRefine(refusedUrl('api_url'))
      .superRefine((cr, ctx) => {
        if (cr.api_url !== undefined && (cr.forge === undefined || cr.project === undefined))
          ctx.addIssue({
            code: 'custom',
            path: ['api_url'],
            message: 'api_url needs forge and project too (which API, which repository)',
          });
      }),
  ])
  .meta({
    description:
      'Build change requests (pull/merge requests) as versions `pr/<n>`: `true`, a list of target-branch patterns, or `{targets, checkout, forge, api_url, project, token}`.',
  });
