import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { fixture, hmacHex, startWebhookEnv, type WebhookEnv } from '../helpers.js';

const SECRET = 'gitea-secret';

const PIPELINE = pipeline({
  sources: {
    hooks: {
      ...git(['develop', 'main'], { url: 'http://localhost:3000/gitea/webhooks.git' }),
      webhookSecret: SECRET,
    },
    // The ssh form with its port, as Gitea sends it when SSH_PORT is not 22.
    hooksSsh: {
      ...git('develop', { url: 'ssh://gitea@localhost:2222/gitea/webhooks.git' }),
      webhookSecret: 'another-secret',
    },
  },
  jobs: { build: job({ inputs: ['hooks', 'hooksSsh'] }) },
});

let env: WebhookEnv;
beforeEach(async () => {
  env = await startWebhookEnv(PIPELINE);
});
afterEach(async () => {
  await env.close();
});

type Flavour = 'gitea' | 'forgejo' | 'hub';

function send(
  event: string,
  body: unknown,
  opts: { secret?: string; flavour?: Flavour; delivery?: string } = {},
) {
  const payload = JSON.stringify(body);
  const sig = hmacHex(opts.secret ?? SECRET, payload);
  const flavour = opts.flavour ?? 'gitea';
  const delivery = opts.delivery ?? crypto.randomUUID();
  const headers: Record<string, string> =
    flavour === 'forgejo'
      ? { 'x-forgejo-event': event, 'x-forgejo-delivery': delivery, 'x-forgejo-signature': sig }
      : {
          'x-gitea-event': event,
          'x-gitea-delivery': delivery,
          ...(flavour === 'hub'
            ? { 'x-hub-signature-256': `sha256=${sig}` }
            : { 'x-gitea-signature': sig }),
        };
  return env.app.inject({
    method: 'POST',
    url: '/hooks/gitea',
    headers: { 'content-type': 'application/json', ...headers },
    payload,
  });
}

describe('POST /hooks/gitea', () => {
  it.each(['gitea', 'forgejo', 'hub'] as const)(
    'accepts a push signed the %s way',
    async (flavour) => {
      const res = await send('push', fixture('gitea', 'push'), {
        flavour,
        delivery: `d-${flavour}`,
      });
      expect(res.statusCode).toBe(202);
      // Only the source whose secret signed the delivery gets the event.
      expect(env.written[0]).toEqual([
        expect.objectContaining({
          source: 'hooks',
          version: 'bffeb74224043ba2feb48d137756c8a9331c449a',
          ref: 'develop',
          deliveryId: `gitea:d-${flavour}/hooks`,
          changedPaths: ['README.md', 'hooks/webhook.go'],
        }),
      ]);
    },
  );

  it('feeds the ssh-URL source from a delivery signed with its own secret', async () => {
    const res = await send('push', fixture('gitea', 'push'), { secret: 'another-secret' });
    expect(res.statusCode).toBe(202);
    expect(env.written[0]?.map((e) => (e.kind === 'source' ? e.source : ''))).toEqual(['hooksSsh']);
  });

  it('rejects a bad signature with 401 and stores nothing', async () => {
    const res = await send('push', fixture('gitea', 'push'), { secret: 'nope' });
    expect(res.statusCode).toBe(401);
    expect(env.written).toEqual([]);
    expect(await env.received('hooks')).toBe(0);
    expect(env.signatureFailures).toEqual([['gitea', 'mismatch']]);
  });

  it('is idempotent per X-Gitea-Delivery', async () => {
    await send('push', fixture('gitea', 'push'), { delivery: 'again' });
    const res = await send('push', fixture('gitea', 'push'), { delivery: 'again' });
    expect(res.json()).toMatchObject({ redelivery: true, accepted: 1 });
    expect(await env.received('hooks')).toBe(1);
  });

  it('records delete events as ignored and ignores other types', async () => {
    const del = await send('delete', fixture('gitea', 'delete'));
    expect(del.statusCode).toBe(202);
    expect(del.json()).toEqual({ ignored: 'branch deleted: feature/gone' });
    const issues = await send('issues', fixture('gitea', 'issues'));
    expect(issues.json()).toEqual({ ignored: 'event type "issues" is not handled' });
    expect(env.written).toEqual([]);
  });
});
