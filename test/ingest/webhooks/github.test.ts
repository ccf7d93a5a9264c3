import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { git, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { fixture, hmacHex, startWebhookEnv, type WebhookEnv } from '../helpers.js';

const SECRET = 'gh-secret-τ';

/** One repository written four ways, plus a repository whose source takes no webhooks. */
const PIPELINE = pipeline({
  sources: {
    app: {
      ...git('main', { url: 'https://github.com/Codertocat/Hello-World.git' }),
      webhookSecret: SECRET,
    },
    all: {
      ...git('**', { url: 'ssh://git@github.com/codertocat/hello-world' }),
      webhookSecret: SECRET,
    },
    releases: {
      ...git('tags/v*', { url: 'git@GitHub.com:Codertocat/Hello-World.git' }),
      webhookSecret: SECRET,
    },
    other: git('main', { url: 'https://github.com/other/repo.git' }),
  },
  jobs: { build: job({ inputs: ['app', 'all', 'releases', 'other'] }) },
});

let env: WebhookEnv;
let delivery = 0;

beforeEach(async () => {
  env = await startWebhookEnv(PIPELINE);
});
afterEach(async () => {
  await env.close();
});

function send(
  event: string,
  body: unknown,
  opts: { secret?: string | null; delivery?: string; signature?: string } = {},
) {
  const payload = JSON.stringify(body);
  const secret = opts.secret === undefined ? SECRET : opts.secret;
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery':
      opts.delivery ?? `72d3162e-cc78-11e3-81ab-4c9367dc${String(delivery++).padStart(4, '0')}`,
    'user-agent': 'GitHub-Hookshot/044aadd',
  };
  if (opts.signature !== undefined) headers['x-hub-signature-256'] = opts.signature;
  else if (secret !== null) headers['x-hub-signature-256'] = `sha256=${hmacHex(secret, payload)}`;
  return env.app.inject({ method: 'POST', url: '/hooks/github', headers, payload });
}

function push(ref: string, after = '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c') {
  return { ...fixture('github', 'push'), ref, after };
}

describe('POST /hooks/github', () => {
  it('accepts a signed push: the events are in the inbox before the 202', async () => {
    const res = await send('push', fixture('github', 'push'), { delivery: 'd-1' });
    expect(res.statusCode).toBe(202);
    const body = res.json<{ accepted: number; events: number[] }>();
    expect(body.accepted).toBe(2);
    expect(body.events).toHaveLength(2);
    expect(env.written[0]).toEqual([
      expect.objectContaining({
        source: 'app',
        version: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
        ref: 'main',
        origin: 'webhook',
        deliveryId: 'github:d-1/app',
        changedPaths: ['README.md', 'docs/new.md', 'scripts/old.sh'],
      }),
      expect.objectContaining({ source: 'all', ref: 'main', deliveryId: 'github:d-1/all' }),
    ]);
    expect(await env.received('app')).toBe(1);
    expect(await env.h.store.sources.sourceHeads('app')).toEqual([
      expect.objectContaining({
        version: '0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c',
        ref: 'main',
        origin: 'webhook',
      }),
    ]);
    expect(env.outcomes).toContainEqual(['app', 'github', 'accepted']);
  });

  it.each([
    ['a wrong secret', { secret: 'not-the-secret' }, 'mismatch'],
    ['a malformed signature', { signature: 'sha256=zz' }, 'mismatch'],
    [
      'a SHA-1 signature only',
      { signature: 'sha1=0123456789abcdef0123456789abcdef01234567' },
      'mismatch',
    ],
    ['no signature', { secret: null }, 'missing'],
  ] as const)('rejects %s with 401 and stores nothing', async (_name, opts, reason) => {
    const res = await send('push', fixture('github', 'push'), opts);
    expect(res.statusCode).toBe(401);
    expect(res.json()).toEqual({ error: { code: 'NL_UNAUTHORIZED', message: expect.any(String) } });
    expect(env.written).toEqual([]);
    expect(await env.received('app')).toBe(0);
    expect(env.signatureFailures).toEqual([['github', reason]]);
  });

  it('rejects a repository whose source has no webhook_secret, saying so', async () => {
    const body = {
      ...fixture('github', 'push'),
      repository: { clone_url: 'https://github.com/other/repo.git' },
    };
    const res = await send('push', body);
    expect(res.statusCode).toBe(401);
    expect(res.json<{ error: { message: string } }>().error.message).toMatch(
      /other.*webhook_secret/,
    );
    expect(env.signatureFailures).toEqual([['github', 'no-secret']]);
    expect(env.written).toEqual([]);
  });

  it('makes redeliveries idempotent through X-GitHub-Delivery', async () => {
    const first = await send('push', fixture('github', 'push'), { delivery: 'same' });
    const again = await send('push', fixture('github', 'push'), { delivery: 'same' });
    expect(again.statusCode).toBe(202);
    expect(again.json()).toEqual({ ...first.json<object>(), redelivery: true });
    expect(await env.received('app')).toBe(1);
    expect(env.outcomes.filter(([, , o]) => o === 'redelivery')).toHaveLength(2);
  });

  it('answers a ping with 200 once the signature checks out', async () => {
    const ok = await send('ping', fixture('github', 'ping'));
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toEqual({ ping: 'ok', sources: ['app', 'all', 'releases'] });
    const bad = await send('ping', fixture('github', 'ping'), { secret: 'wrong' });
    expect(bad.statusCode).toBe(401);
    expect(env.written).toEqual([]);
  });

  it('ignores other event types with 202 and the type', async () => {
    const res = await send('issues', fixture('github', 'issues'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ ignored: 'event type "issues" is not handled' });
    expect(env.written).toEqual([]);
  });

  it('records a branch deletion as ignored: nothing to build', async () => {
    const res = await send('push', fixture('github', 'push-delete'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({ ignored: 'branch deleted: feature/old' });
    expect(env.written).toEqual([]);
  });

  it('takes a force push as the new version', async () => {
    const res = await send('push', fixture('github', 'push-forced'));
    expect(res.statusCode).toBe(202);
    expect(env.written[0]?.[0]).toMatchObject({
      source: 'app',
      version: '9e4f8c1d2b3a4c5d6e7f8091a2b3c4d5e6f70812',
      changedPaths: ['src/main.c'],
    });
    // Heads move when the scheduler decides, after the webhook is answered.
    await env.h.decided();
    expect(await env.h.store.sources.sourceHeads('app')).toEqual([
      expect.objectContaining({ version: '9e4f8c1d2b3a4c5d6e7f8091a2b3c4d5e6f70812' }),
    ]);
  });

  it('maps tag pushes only to sources that follow tags/ patterns', async () => {
    const res = await send('push', fixture('github', 'push-tag'));
    expect(res.statusCode).toBe(202);
    expect(env.written[0]?.map((e) => (e.kind === 'source' ? [e.source, e.ref] : null))).toEqual([
      ['releases', 'tags/v1.2.0'],
    ]);
  });

  it.each([
    ['a shell substitution', 'feature/$(id)'],
    ['backticks and quotes', 'fix/`touch x`-"q"-\'s\''],
    ['unicode', 'fix/ünïcödé-✓-日本語'],
    ['250 characters', `feature/${'x'.repeat(242)}`],
  ])('stores %s in a branch name exactly, as data', async (_name, branch) => {
    const res = await send(
      'push',
      push(`refs/heads/${branch}`, 'a10867b14bb761a232cd80139fbd4c0d33264240'),
    );
    expect(res.statusCode).toBe(202);
    expect(env.written[0]).toEqual([expect.objectContaining({ source: 'all', ref: branch })]);
    await env.h.decided();
    expect(await env.h.store.sources.sourceHeads('all')).toEqual([
      expect.objectContaining({ ref: branch }),
    ]);
  });

  it('answers 202 "no source follows" for a repository or branch nobody follows', async () => {
    const unknown = {
      ...fixture('github', 'push'),
      repository: { clone_url: 'https://github.com/someone/else.git' },
    };
    const res = await send('push', unknown);
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      ignored: 'no source follows https://github.com/someone/else.git main',
    });
    expect(env.written).toEqual([]);
  });

  it('accepts the form-encoded content type GitHub offers', async () => {
    const payload = `payload=${encodeURIComponent(JSON.stringify(fixture('github', 'push')))}`;
    const res = await env.app.inject({
      method: 'POST',
      url: '/hooks/github',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'push',
        'x-github-delivery': 'form-1',
        'x-hub-signature-256': `sha256=${hmacHex(SECRET, payload)}`,
      },
      payload,
    });
    expect(res.statusCode).toBe(202);
    expect(env.written[0]?.[0]).toMatchObject({ source: 'app', deliveryId: 'github:form-1/app' });
  });
});
