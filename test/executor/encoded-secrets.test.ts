import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { logPath } from '../../src/executor/log-reader.js';

/** Quotes, slash, plus, equals, ampersand, space: every encoding below writes it differently. */
const TOKEN = 'pa$$ "w0rd"/+s3cr=t&x~9';
const KEY_LINES = [
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACBqL8v4f5l1y0m9p6o9g3h2e1w0q8r7t6y5u4i3o2p1aAAAAJgAAAAAAAAA',
  '-----END OPENSSH PRIVATE KEY-----',
];
const KEY = KEY_LINES.join('\n');
const API_TOKEN = 'encoded-secrets-api-token-0123456789';

const b64 = (s: string) => Buffer.from(s).toString('base64');
/** What the step prints, computed here the way a reader of the log would decode it. */
const LEAKS: Readonly<Record<string, string>> = {
  'base64, offset 0': b64(TOKEN),
  'base64, offset 1': b64(`x${TOKEN}`),
  'base64, offset 2': b64(`xy${TOKEN}`),
  'base64 of a Basic auth header': b64(`user:${TOKEN}`),
  'base64 written in two pieces': b64(TOKEN),
  base64url: Buffer.from(`xy${TOKEN}`).toString('base64url'),
  encodeURIComponent: encodeURIComponent(TOKEN),
  'JSON-escaped': JSON.stringify(TOKEN).slice(1, -1),
  'one line of a multi-line key': KEY_LINES[2]!,
};

/** The secret-derived part of a base64 string: without the characters its neighbours touch. */
const core = (encoded: string) => encoded.slice(4, -4);

/**
 * A real build (local executor, bash steps) prints a secret encoded every way a step commonly
 * does; the stored log, the log API and the live SSE log must not contain any of the forms.
 */
describe('secrets in encoded forms are masked in the log, the log API and SSE', () => {
  let root: string;
  let nl: Nightless;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'nightless-encoded-secrets-'));
    const dataDir = join(root, 'data');
    await mkdir(dataDir, { recursive: true });
    await writeFile(join(dataDir, 'token'), `${API_TOKEN}\n`, { mode: 0o600 });
    process.env['NL_TEST_TOKEN'] = TOKEN;
    process.env['NL_TEST_KEY'] = KEY;
    const node = JSON.stringify(process.execPath);
    // Each step prints a marker then the encoded secret, so a test that finds the marker but no
    // leak knows the line was there and was masked (not lost).
    const steps = [
      `echo "m0 $(printf '%s' "$TOKEN" | base64 -w0)"`,
      `echo "m1 $(printf 'x%s' "$TOKEN" | base64 -w0)"`,
      `echo "m2 $(printf 'xy%s' "$TOKEN" | base64 -w0)"`,
      `echo "m3 Authorization: Basic $(printf 'user:%s' "$TOKEN" | base64 -w0)"`,
      `B=$(printf '%s' "$TOKEN" | base64 -w0); printf 'm4 %s' "\${B:0:7}"; sleep 0.3; printf '%s end\\n' "\${B:7}"`,
      `echo "m5 $(printf 'xy%s' "$TOKEN" | base64 -w0 | tr '+/' '-_' | tr -d '=')"`,
      `${node} -e "console.log('m6 https://x.example/?t=' + encodeURIComponent(process.env.TOKEN))"`,
      `${node} -e "console.log('m7 {\\"token\\":' + JSON.stringify(process.env.TOKEN) + '}')"`,
      `printf '%s\\n' "$KEY" | sed -n 3p | sed 's/^/m8 /'`,
    ];
    await writeFile(
      join(root, 'nightless.yaml'),
      `version: 1
pipeline: masking
jobs:
  leak:
    env:
      TOKEN: \${env:NL_TEST_TOKEN}
      KEY: \${env:NL_TEST_KEY}
    steps:
      - run: ${JSON.stringify(steps.join('; '))}
      - run: sleep 0.3
`,
    );
    nl = await startNightless({
      configPath: join(root, 'nightless.yaml'),
      dataDir,
      host: '127.0.0.1',
      port: 0,
      slots: 1,
      logger: pino({ level: 'silent' }),
      watchConfig: false,
    });
  }, 60_000);

  afterAll(async () => {
    await nl?.stop();
    delete process.env['NL_TEST_TOKEN'];
    delete process.env['NL_TEST_KEY'];
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it('never shows the secret in any form, in any of the three places', async () => {
    const trigger = await fetch(`${nl.url}/api/jobs/leak/trigger`, {
      method: 'POST',
      headers: { authorization: `Bearer ${API_TOKEN}`, 'content-type': 'application/json' },
      // A job without inputs has already run once at start; force a build to follow live.
      body: JSON.stringify({ force: true }),
      signal: AbortSignal.timeout(5_000),
    });
    expect(trigger.status).toBeLessThan(300);
    const { build } = (await trigger.json()) as { build: { id: number } };

    // Live: follow the log over SSE while the build runs, to its `end` event.
    const sse = await fetch(`${nl.url}/api/builds/${build.id}/log?follow=1`, {
      signal: AbortSignal.timeout(20_000),
    });
    const live = await sse.text();
    expect(live).toMatch(/event: end\ndata: \{"state":"passed"/);

    const stored = await readFile(logPath(join(root, 'data'), build.id), 'utf8');
    const api = await (
      await fetch(`${nl.url}/api/builds/${build.id}/log?limit=65536`, {
        signal: AbortSignal.timeout(5_000),
      })
    ).text();

    for (const [where, text] of [
      ['stored log', stored],
      ['log API', api],
      ['SSE', live],
    ] as const) {
      for (const marker of ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'])
        expect(text, `${where}: ${marker}`).toContain(`${marker} `);
      expect(text, `${where}: the piece after the split`).toContain(' end');
      expect(text, where).toContain('***');
      expect(text, `${where}: the secret itself`).not.toContain(TOKEN);
      for (const [form, leak] of Object.entries(LEAKS)) {
        const secretPart = form.startsWith('base64') ? core(leak) : leak;
        expect(text, `${where}: ${form}`).not.toContain(secretPart);
      }
    }
  }, 30_000);
});
