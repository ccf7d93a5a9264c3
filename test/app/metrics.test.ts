import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { git } from '../../src/testing/git.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';

/**
 * `GET /metrics` of a real `startNightless` (SQLite, port 0) over a pipeline with two local bare
 * repositories (`app`, `gh`), both `fallback_poll: off`: each is checked once at start, then
 * only on request. Slots 0: builds stay queued.
 */

let root: string;
let nl: Nightless;
let commit: string;

const FAMILIES = [
  'nightless_events_received_total',
  'nightless_webhook_signature_failures_total',
  'nightless_inbox_lag_seconds',
  'nightless_polls_total',
  'nightless_missed_events_total',
  'nightless_missed_event_ratio',
  'nightless_builds',
  'nightless_queue_depth',
  'nightless_running_builds',
  'process_cpu_user_seconds_total',
  'nodejs_eventloop_lag_seconds',
];

async function start(dir: string, readAuth = false): Promise<Nightless> {
  return startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, dir),
    host: '127.0.0.1',
    port: 0,
    slots: 0,
    logger: pino({ level: process.env['DEBUG_NL'] ? 'error' : 'silent' }),
    readAuth,
    watchConfig: false,
  });
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-metrics-'));
  const work = join(root, 'work');
  git(root, 'init', '-q', work);
  await writeFile(join(work, 'README'), 'hello\n');
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', 'first');
  commit = git(work, 'rev-parse', 'HEAD');
  git(root, 'clone', '-q', '--bare', work, join(root, 'app.git'));
  git(root, 'clone', '-q', '--bare', work, join(root, 'gh.git'));
  await writeFile(
    join(root, 'nightless.yaml'),
    `version: 1
pipeline: metrics-test
sources:
  app:
    git: ${join(root, 'app.git')}
    branch: main
    webhook_secret: app-secret
    fallback_poll: off
  gh:
    git: ${join(root, 'gh.git')}
    branch: main
    webhook_secret: gh-secret
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    steps: ['true']
  mirror:
    inputs: [gh]
    steps: ['true']
`,
  );
  nl = await start('data');
  // The one check each `off` source gets at start (bounded wait).
  for (let i = 0; i < 200; i++) {
    const sources = await nl.store.read.listSources();
    if (sources.filter((s) => s.lastCheckAt !== null).length === 2) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await nl.engine.decided();
}, 60_000);

afterAll(async () => {
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

async function scrape(server = nl): Promise<string> {
  const res = await fetch(`${server.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return res.text();
}

/** The value of one sample, matched on its exact label set; `undefined` when absent. */
function sample(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const want = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort()
    .join(',');
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const got = (m[2] ?? '')
      .split(/,(?=[a-zA-Z_]\w*=")/)
      .filter(Boolean)
      .sort()
      .join(',');
    if (got === want) return Number(m[3]);
  }
  return undefined;
}

/** The API token `nightless serve` wrote into a data directory. */
async function token(dir: string): Promise<string> {
  return (await readFile(join(root, dir, 'token'), 'utf8')).trim();
}

function sign(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

function post(path: string, body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${nl.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
}

describe('GET /metrics', () => {
  it('serves every family in the Prometheus text format, without a token', async () => {
    const text = await scrape();
    for (const family of FAMILIES) expect(text).toContain(`# TYPE ${family} `);
    expect(sample(text, 'nightless_inbox_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(sample(text, 'nightless_builds', { state: 'passed' })).toBe(0);
    expect(sample(text, 'nightless_running_builds')).toBe(0);
  });

  it('counts bad signatures per forge, as rejected events', async () => {
    const push = JSON.parse(
      await readFile(join(import.meta.dirname, '../fixtures/webhooks/github/push.json'), 'utf8'),
    ) as Record<string, unknown>;
    const body = JSON.stringify(push);
    const gh = await post('/hooks/github', body, {
      'x-github-event': 'push',
      'x-github-delivery': 'bad-1',
      'x-hub-signature-256': sign('wrong-secret', body),
    });
    expect(gh.status).toBe(401);
    const generic = JSON.stringify({ source: 'app', version: 'c0ffee' });
    const res = await post('/hooks/generic', generic, {
      'x-nightless-signature-256': sign('wrong-secret', generic),
    });
    expect(res.status).toBe(401);
    const text = await scrape();
    expect(sample(text, 'nightless_webhook_signature_failures_total', { forge: 'github' })).toBe(1);
    expect(sample(text, 'nightless_webhook_signature_failures_total', { forge: 'generic' })).toBe(
      1,
    );
    expect(
      sample(text, 'nightless_events_received_total', {
        source: '',
        kind: 'webhook',
        outcome: 'rejected',
      }),
    ).toBe(2);
  });

  it('counts a generic webhook event as accepted, its redelivery as a duplicate', async () => {
    const body = JSON.stringify({ source: 'app', version: 'c0ffee0000' });
    const headers = {
      'x-nightless-signature-256': sign('app-secret', body),
      'x-nightless-delivery': 'm-1',
    };
    expect((await post('/hooks/generic', body, headers)).status).toBe(202);
    expect((await post('/hooks/generic', body, headers)).status).toBe(202);
    await nl.engine.decided();
    const text = await scrape();
    const received = (outcome: string) =>
      sample(text, 'nightless_events_received_total', { source: 'app', kind: 'webhook', outcome });
    expect(received('accepted')).toBe(1);
    expect(received('duplicate-delivery')).toBe(1);
    expect(sample(text, 'nightless_inbox_lag_seconds')).toBe(0);
    const queued = sample(text, 'nightless_builds', { state: 'queued' });
    expect(queued).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'nightless_queue_depth')).toBe(queued);
  });

  it('counts polls, their events, and a version no event announced as missed', async () => {
    const res = await fetch(`${nl.url}/api/sources/app/poll`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await token('data')}` },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ poll: { source: 'app', ok: true, newVersions: 1 } });
    await nl.engine.decided();
    const text = await scrape();
    // The check at start, and this one.
    expect(sample(text, 'nightless_polls_total', { source: 'app', result: 'ok' })).toBe(2);
    // The webhook above announced c0ffee0000 for main; the repository says `commit`: missed.
    expect(sample(text, 'nightless_missed_events_total', { source: 'app' })).toBe(1);
    expect(
      sample(text, 'nightless_events_received_total', {
        source: 'app',
        kind: 'poll',
        outcome: 'accepted',
      }),
    ).toBe(2);
    const ratio = sample(text, 'nightless_missed_event_ratio', { source: 'app' });
    expect(ratio).toBeGreaterThan(0);
    expect(ratio).toBeLessThanOrEqual(1);
    expect(sample(text, 'nightless_missed_event_ratio', { source: 'gh' })).toBe(0);
    expect((await nl.store.sources.sourceHeads('app'))[0]?.version).toBe(commit);
  });

  it('counts manual triggers', async () => {
    const res = await fetch(`${nl.url}/api/jobs/build/trigger`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${await token('data')}`,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ force: true }),
    });
    expect(res.status).toBeLessThan(300);
    const text = await scrape();
    expect(
      sample(text, 'nightless_events_received_total', {
        source: '',
        kind: 'manual',
        outcome: 'accepted',
      }),
    ).toBe(1);
  });

  it('asks for the token with --read-auth', async () => {
    const guarded = await start('data-auth', true);
    try {
      expect((await fetch(`${guarded.url}/metrics`)).status).toBe(401);
      const res = await fetch(`${guarded.url}/metrics`, {
        headers: { authorization: `Bearer ${await token('data-auth')}` },
      });
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('# TYPE nightless_builds gauge');
    } finally {
      await guarded.stop();
    }
  });
});
