import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { fixture, startWebhookEnv, type WebhookEnv } from '../helpers.js';

const TOKEN = 'gl-token-with-some-length';

const PIPELINE = pipeline({
  sources: {
    // The ssh form the payload also carries, written without `.git`.
    diaspora: {
      ...git(['master', 'feature/*', 'tags/v*'], { url: 'git@example.com:mike/diaspora' }),
      webhookSecret: TOKEN,
    },
  },
  jobs: { build: job({ inputs: ['diaspora'] }) },
});

let env: WebhookEnv;
beforeEach(async () => {
  env = await startWebhookEnv(PIPELINE);
});
afterEach(async () => {
  await env.close();
});

function send(
  event: string,
  body: unknown,
  opts: { token?: string | null; uuid?: string; idempotencyKey?: string } = {},
) {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-gitlab-event': event,
    'x-gitlab-event-uuid': opts.uuid ?? crypto.randomUUID(),
    'x-gitlab-webhook-uuid': crypto.randomUUID(),
    'x-gitlab-instance': 'https://gitlab.example.com',
    'user-agent': 'GitLab/17.5.0',
  };
  if (opts.idempotencyKey) headers['idempotency-key'] = opts.idempotencyKey;
  const token = opts.token === undefined ? TOKEN : opts.token;
  if (token !== null) headers['x-gitlab-token'] = token;
  return env.app.inject({
    method: 'POST',
    url: '/hooks/gitlab',
    headers,
    payload: JSON.stringify(body),
  });
}

describe('POST /hooks/gitlab', () => {
  it('accepts a Push Hook with the right token', async () => {
    const res = await send('Push Hook', fixture('gitlab', 'push'), { uuid: 'ev-1' });
    expect(res.statusCode).toBe(202);
    expect(env.written[0]).toEqual([
      expect.objectContaining({
        source: 'diaspora',
        version: 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7',
        ref: 'master',
        deliveryId: 'gitlab:ev-1/diaspora',
        changedPaths: ['CHANGELOG', 'app/controller/application.rb'],
      }),
    ]);
    expect(await env.received('diaspora')).toBe(1);
  });

  it.each([
    ['a wrong token', 'gl-token-with-some-lengtH', 'mismatch'],
    ['a shorter token', 'gl', 'mismatch'],
    ['no token', null, 'missing'],
  ] as const)('rejects %s with 401', async (_n, token, reason) => {
    const res = await send('Push Hook', fixture('gitlab', 'push'), { token });
    expect(res.statusCode).toBe(401);
    expect(env.written).toEqual([]);
    expect(await env.received('diaspora')).toBe(0);
    expect(env.signatureFailures).toEqual([['gitlab', reason]]);
  });

  it('dedupes retries by Idempotency-Key (GitLab ≥ 17.4), over the event UUID', async () => {
    await send('Push Hook', fixture('gitlab', 'push'), { idempotencyKey: 'k-1', uuid: 'a' });
    const again = await send('Push Hook', fixture('gitlab', 'push'), {
      idempotencyKey: 'k-1',
      uuid: 'b',
    });
    expect(again.json()).toMatchObject({ redelivery: true });
    expect(env.written.flat().map((e) => (e.kind === 'source' ? e.deliveryId : null))).toEqual([
      'gitlab:k-1/diaspora',
      'gitlab:k-1/diaspora',
    ]);
    expect(await env.received('diaspora')).toBe(1);
  });

  it('leaves changed paths unknown when GitLab truncated the commit list', async () => {
    await send('Push Hook', fixture('gitlab', 'push-truncated'));
    expect(env.written[0]?.[0]).toMatchObject({ changedPaths: null });
  });

  it('maps a Tag Push Hook to tags/<name>', async () => {
    const res = await send('Tag Push Hook', fixture('gitlab', 'tag-push'));
    expect(res.statusCode).toBe(202);
    expect(env.written[0]?.[0]).toMatchObject({
      ref: 'tags/v1.0.0',
      version: '82b3d5ae55f7080f1e6022629cdb57bfae7cccc7',
    });
  });

  it('ignores a deleted branch and other event types', async () => {
    const del = await send('Push Hook', fixture('gitlab', 'push-delete'));
    expect(del.json()).toEqual({ ignored: 'branch deleted: feature/gone' });
    // Merge requests are built only by sources with `change_requests` (change-requests.test.ts).
    const mr = await send('Merge Request Hook', fixture('gitlab', 'merge-request-open'));
    expect(mr.statusCode).toBe(202);
    expect(mr.json()).toEqual({
      ignored:
        'no source follows change requests of http://example.com/mike/diaspora.git into master',
    });
    const note = await send('Note Hook', fixture('gitlab', 'merge-request-open'));
    expect(note.json()).toEqual({ ignored: 'event type "Note Hook" is not handled' });
    expect(env.written).toEqual([]);
  });

  it('matches the https form too, and says which branch nobody follows', async () => {
    const body = {
      ...fixture('gitlab', 'push'),
      ref: 'refs/heads/experiment',
      project: { git_http_url: 'http://EXAMPLE.com/mike/diaspora.git' },
      repository: undefined,
    };
    const res = await send('Push Hook', body);
    expect(res.json()).toEqual({
      ignored: 'no source follows http://EXAMPLE.com/mike/diaspora.git experiment',
    });
  });

  it('answers 400 with a JSON error for a push payload without the fields it needs', async () => {
    const res = await send('Push Hook', { object_kind: 'push', ref: 'refs/heads/master' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toEqual({
      error: {
        code: 'NL_BAD_REQUEST',
        message: expect.stringMatching(/GitLab push payload.*after/),
      },
    });
  });
});
