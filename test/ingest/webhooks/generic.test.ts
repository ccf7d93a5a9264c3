import { afterEach, describe, expect, it } from 'vitest';
import { git, http, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import type { PollTrigger } from '../../../src/ingest/webhooks/routes.js';
import { hmacHex, startWebhookEnv, type WebhookEnv } from '../helpers.js';

const PIPELINE = pipeline({
  sources: {
    app: { ...git('main'), webhookSecret: 'app-secret' },
    multi: {
      ...git(['main', 'release/*'], { url: 'https://git.example.com/multi.git' }),
      webhookSecret: 'multi-secret',
    },
    bin: { ...http('https://files.example.com/tool.tar.gz'), webhookSecret: 'bin-secret' },
    open: http('https://files.example.com/open.bin'),
  },
  jobs: { build: job({ inputs: ['app', 'multi', 'bin', 'open'] }) },
});

let env: WebhookEnv;
afterEach(async () => {
  await env.close();
});

function send(body: unknown, secret: string | null, headers: Record<string, string> = {}) {
  const payload = JSON.stringify(body);
  return env.app.inject({
    method: 'POST',
    url: '/hooks/generic',
    headers: {
      'content-type': 'application/json',
      ...(secret === null
        ? {}
        : { 'x-nightless-signature-256': `sha256=${hmacHex(secret, payload)}` }),
      ...headers,
    },
    payload,
  });
}

describe('POST /hooks/generic', () => {
  it('announces a git version; ref defaults to the one branch the source follows', async () => {
    env = await startWebhookEnv(PIPELINE);
    const res = await send(
      { source: 'app', version: 'c0ffee', changed_paths: ['b', 'a', 'b'] },
      'app-secret',
      { 'x-nightless-delivery': 'n-1' },
    );
    expect(res.statusCode).toBe(202);
    expect(env.written[0]).toEqual([
      expect.objectContaining({
        source: 'app',
        version: 'c0ffee',
        ref: 'main',
        origin: 'webhook',
        deliveryId: 'generic:n-1/app',
        changedPaths: ['a', 'b'],
      }),
    ]);
    expect(await env.received('app')).toBe(1);
  });

  it('needs a ref when the source follows several branches, and checks it is followed', async () => {
    env = await startWebhookEnv(PIPELINE);
    const missing = await send({ source: 'multi', version: 'v1' }, 'multi-secret');
    expect(missing.statusCode).toBe(400);
    const other = await send(
      { source: 'multi', version: 'v1', ref: 'refs/heads/dev' },
      'multi-secret',
    );
    expect(other.json()).toEqual({ ignored: 'source "multi" does not follow dev' });
    const ok = await send(
      { source: 'multi', version: 'v1', ref: 'refs/heads/release/2.0' },
      'multi-secret',
    );
    expect(ok.statusCode).toBe(202);
    expect(env.written[0]?.[0]).toMatchObject({ ref: 'release/2.0' });
  });

  it('accepts a version for an http source, and asks the poller to check it without one', async () => {
    const polled: string[] = [];
    const poller: PollTrigger = {
      pollNow: (name) => (polled.push(name), Promise.resolve()),
      eventArrived: () => undefined,
    };
    env = await startWebhookEnv(PIPELINE, { poller });
    const withVersion = await send({ source: 'bin', version: '"etag-1"' }, 'bin-secret');
    expect(withVersion.statusCode).toBe(202);
    expect(env.written[0]?.[0]).toMatchObject({ source: 'bin', version: '"etag-1"', ref: null });
    const poke = await send({ source: 'bin' }, 'bin-secret');
    expect(poke.statusCode).toBe(202);
    expect(poke.json()).toEqual({ polling: 'bin' });
    expect(polled).toEqual(['bin']);
  });

  it.each([
    ['a wrong signature', { source: 'app', version: 'x' }, 'bin-secret', 401, 'mismatch'],
    ['no signature', { source: 'app', version: 'x' }, null, 401, 'missing'],
    ['a secret no source has', { source: 'app', version: 'x' }, 'anything', 401, 'mismatch'],
    // Signed with another source's secret: authentic, but not for the source it names.
    [
      'a source without webhook_secret',
      { source: 'open', version: 'x' },
      'app-secret',
      401,
      'no-secret',
    ],
  ] as const)('rejects %s with 401', async (_n, body, secret, status, reason) => {
    env = await startWebhookEnv(PIPELINE);
    const res = await send(body, secret);
    expect(res.statusCode).toBe(status);
    expect(env.signatureFailures).toEqual([['generic', reason]]);
    expect(env.written).toEqual([]);
    if (reason === 'no-secret')
      expect(res.json<{ error: { message: string } }>().error.message).toMatch(/webhook_secret/);
  });

  it('answers 404 for an unknown source and 400 for a body that is not a notice', async () => {
    env = await startWebhookEnv(PIPELINE);
    // Only once the signature checks out does the body get read at all.
    expect((await send({ source: 'nope', version: 'x' }, 'app-secret')).statusCode).toBe(404);
    const bad = await send({ version: 'x' }, 'app-secret');
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toEqual({
      error: { code: 'NL_BAD_REQUEST', message: expect.stringMatching(/source/) },
    });
  });
});
