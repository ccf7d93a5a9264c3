import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { git, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { fixture, hmacHex, startWebhookEnv, type WebhookEnv } from '../helpers.js';

/**
 * Issue 11 points 8 and 9, over real HTTP (a listening server and `fetch`): a delivery's
 * signature is verified before its body is read, on every forge endpoint, and an empty secret
 * never verifies anything.
 */
const SECRET = 'verify-first-secret';

const PIPELINE = pipeline({
  sources: {
    gh: {
      ...git('main', { url: 'https://github.com/Codertocat/Hello-World.git' }),
      webhookSecret: SECRET,
    },
    gl: {
      ...git(['master'], { url: 'git@example.com:mike/diaspora' }),
      webhookSecret: SECRET,
    },
    gt: {
      ...git(['develop', 'main'], { url: 'http://localhost:3000/gitea/webhooks.git' }),
      webhookSecret: SECRET,
    },
  },
  jobs: { build: job({ inputs: ['gh', 'gl', 'gt'] }) },
});

type Forge = 'github' | 'gitlab' | 'gitea' | 'generic';

/** The headers each endpoint signs with; `secret: null` = unsigned. */
function signedHeaders(forge: Forge, body: string, secret: string | null): Record<string, string> {
  const hex = secret === null ? null : hmacHex(secret, body);
  switch (forge) {
    case 'github':
      return {
        'x-github-event': 'push',
        'x-github-delivery': crypto.randomUUID(),
        ...(hex === null ? {} : { 'x-hub-signature-256': `sha256=${hex}` }),
      };
    case 'gitlab':
      return {
        'x-gitlab-event': 'Push Hook',
        ...(secret === null ? {} : { 'x-gitlab-token': secret }),
      };
    case 'gitea':
      return {
        'x-gitea-event': 'push',
        'x-gitea-delivery': crypto.randomUUID(),
        ...(hex === null ? {} : { 'x-gitea-signature': hex }),
      };
    case 'generic':
      return hex === null ? {} : { 'x-nightless-signature-256': `sha256=${hex}` };
  }
}

let env: WebhookEnv | undefined;
let logLines: string[] = [];
afterEach(async () => {
  await env?.close();
  env = undefined;
});

async function start(p = PIPELINE): Promise<string> {
  logLines = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logLines.push(line) });
  env = await startWebhookEnv(p, {}, { logger });
  return env.app.listen({ host: '127.0.0.1', port: 0 });
}

async function post(
  url: string,
  forge: Forge,
  body: string,
  contentType: string,
  secret: string | null,
) {
  const res = await fetch(`${url}/hooks/${forge}`, {
    method: 'POST',
    headers: { 'content-type': contentType, ...signedHeaders(forge, body, secret) },
    body,
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: (await res.json()) as { error?: { code: string } } };
}

const FORGES: readonly Forge[] = ['github', 'gitlab', 'gitea', 'generic'];
const NOT_JSON: ReadonlyArray<readonly [string, string, string]> = [
  ['plain text', 'hello', 'application/json'],
  ['truncated JSON', '{"ref": "refs/heads/main", ', 'application/json'],
  ['an empty body', '', 'application/json'],
  ['a form without payload', 'a=1', 'application/x-www-form-urlencoded'],
  ['text/plain', '{}', 'text/plain'],
  ['binary', '\u0000\u0001\u0002', 'application/octet-stream'],
];

describe('webhooks verify the signature before reading the body', () => {
  it.each(FORGES)(
    '%s: an unsigned or wrongly signed body is 401 whatever it holds; signed right, it is 400/415',
    async (forge) => {
      const url = await start();
      for (const [what, body, type] of NOT_JSON) {
        const unsigned = await post(url, forge, body, type, null);
        expect([what, unsigned.status]).toEqual([what, 401]);
        expect(unsigned.body.error?.code).toBe('NL_UNAUTHORIZED');
        const wrong = await post(url, forge, body, type, 'not-the-secret');
        expect([what, wrong.status]).toEqual([what, 401]);
        const signed = await post(url, forge, body, type, SECRET);
        const expected = type === 'text/plain' || type === 'application/octet-stream' ? 415 : 400;
        expect([what, signed.status]).toEqual([what, expected]);
      }
      expect(env?.written).toEqual([]);
      expect(env?.signatureFailures.every(([kind]) => kind === forge)).toBe(true);
      expect(env?.signatureFailures).toHaveLength(NOT_JSON.length * 2);
    },
  );

  it('still accepts a correctly signed push on each forge', async () => {
    const url = await start();
    const gh = JSON.stringify(fixture('github', 'push'));
    expect((await post(url, 'github', gh, 'application/json', SECRET)).status).toBe(202);
    const gl = JSON.stringify(fixture('gitlab', 'push'));
    expect((await post(url, 'gitlab', gl, 'application/json', SECRET)).status).toBe(202);
    const gt = JSON.stringify(fixture('gitea', 'push'));
    expect((await post(url, 'gitea', gt, 'application/json', SECRET)).status).toBe(202);
    const generic = JSON.stringify({ source: 'gh', version: 'a'.repeat(40) });
    expect((await post(url, 'generic', generic, 'application/json', SECRET)).status).toBe(202);
    expect(env?.written.flat().map((e) => (e.kind === 'source' ? e.source : null))).toEqual([
      'gh',
      'gl',
      'gt',
      'gh',
    ]);
  });
});

describe('an empty webhook_secret never verifies', () => {
  // `check` refuses `webhook_secret: ""`; a pipeline built in code can still hold one.
  const EMPTY = pipeline({
    sources: {
      gh: {
        ...git('main', { url: 'https://github.com/Codertocat/Hello-World.git' }),
        webhookSecret: '',
      },
      gl: { ...git(['master'], { url: 'git@example.com:mike/diaspora' }), webhookSecret: '' },
      gt: {
        ...git(['develop', 'main'], { url: 'http://localhost:3000/gitea/webhooks.git' }),
        webhookSecret: '',
      },
    },
    jobs: { build: job({ inputs: ['gh', 'gl', 'gt'] }) },
  });

  it.each([
    ['github', JSON.stringify(fixture('github', 'push'))],
    ['gitea', JSON.stringify(fixture('gitea', 'push'))],
    ['generic', JSON.stringify({ source: 'gh', version: 'b'.repeat(40) })],
  ] as const)(
    '%s: a payload signed with the empty key is refused with 401 and an error in the log',
    async (forge, body) => {
      const url = await start(EMPTY);
      const res = await post(url, forge, body, 'application/json', '');
      expect(res.status).toBe(401);
      expect(env?.written).toEqual([]);
      expect(env?.signatureFailures).toEqual([[forge, 'no-secret']]);
      const errors = logLines
        .map((l) => JSON.parse(l) as { level: number; msg: string; source?: string })
        .filter((l) => l.level >= 50);
      expect(errors.map((l) => l.source).sort()).toEqual(['gh', 'gl', 'gt']);
      expect(errors[0]?.msg).toMatch(/empty webhook_secret.*never verified against an empty key/);
    },
  );

  it('gitlab: an empty X-Gitlab-Token never matches an empty secret', async () => {
    const url = await start(EMPTY);
    const body = JSON.stringify(fixture('gitlab', 'push'));
    const res = await fetch(`${url}/hooks/gitlab`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-gitlab-event': 'Push Hook',
        'x-gitlab-token': '',
      },
      body,
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(401);
    expect(env?.written).toEqual([]);
  });
});
