import { createHmac, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { git } from '../../src/testing/git.js';
import { fixture } from '../ingest/helpers.js';
import {
  chromiumMissing,
  ensureWebBuilt,
  launchChromium,
  screenshot,
  seriousA11yViolations,
  watchConsole,
} from './harness.js';

/**
 * The dashboard's views of change requests (issue 18) and failure classes and SLOs (issue 16) in
 * real headless Chromium against a real server: a signed GitHub `pull_request` hook from a fork,
 * a step killed by SIGKILL (`infrastructure`, retried once), and a reliability SLO whose slow
 * burn alert fires. One server (restarted once, below) and one browser for the file.
 *
 * The SLO must read `burning`, not `exhausted`: that needs good builds in the SLO window that
 * are older than the alert windows (with only recent builds, a burn rate above the threshold
 * always means the whole budget is spent). So the first server runs the good builds, its history
 * is moved 20 minutes into the past, and the second server loads it as its SLO history.
 */

const skip = chromiumMissing();
const TOKEN = `web-extras-${randomBytes(6).toString('hex')}`;
const HOOK_SECRET = `hook-${randomBytes(6).toString('hex')}`;
const AGE_MS = 20 * 60_000;
let root: string;
let repo: string;
let flag: string;
let forkSha: string;
let nl: Nightless;
let url: string;
let browser: Browser;
let context: BrowserContext;

interface BuildRow {
  id: number;
  job: string;
  state: string;
  failureClass: string | null;
  attempt: number;
  inputs: Array<{ ref: string | null }>;
}

async function getJson<T>(path: string): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(5000),
  });
  return (await res.json()) as T;
}

async function postJson(path: string, body: unknown): Promise<Response> {
  return fetch(`${url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
}

const builds = async (job: string) =>
  (await getJson<{ builds: BuildRow[] }>(`/api/builds?job=${job}&limit=50`)).builds;

async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const allFinished = async () => {
  const all = await getJson<{ builds: BuildRow[] }>('/api/builds?limit=100');
  return all.builds.every((b) => !['queued', 'running'].includes(b.state)) ? all.builds : undefined;
};

function start(): Promise<Nightless> {
  const before = process.env.NIGHTLESS_TOKEN;
  process.env.NIGHTLESS_TOKEN = TOKEN;
  process.env.EXTRAS_HOOK_SECRET = HOOK_SECRET;
  return startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port: 0,
    slots: 2,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  }).finally(() => {
    if (before === undefined) delete process.env.NIGHTLESS_TOKEN;
    else process.env.NIGHTLESS_TOKEN = before;
  });
}

/** The fork's `pull_request opened` as GitHub documents it, pointed at our repository, signed. */
async function forkOpened(): Promise<Response> {
  const body = fixture('github', 'pull_request-fork-opened') as {
    pull_request: { head: { sha: string }; base: { ref: string } };
    repository: Record<string, unknown>;
  };
  body.pull_request.head.sha = forkSha;
  body.pull_request.base.ref = 'main';
  body.repository = { ...body.repository, clone_url: repo };
  const payload = JSON.stringify(body);
  return fetch(`${url}/hooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': `extras-${randomBytes(4).toString('hex')}`,
      'x-hub-signature-256': `sha256=${createHmac('sha256', HOOK_SECRET).update(payload).digest('hex')}`,
    },
    body: payload,
    signal: AbortSignal.timeout(5000),
  });
}

async function newPage(token: string | null = null): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  if (token !== null)
    await page.addInitScript(`sessionStorage.setItem('nightless.token', ${JSON.stringify(token)})`);
  return { page, errors: watchConsole(page) };
}

describe.skipIf(skip)('change requests, failure classes and SLOs in the dashboard', () => {
  beforeAll(async () => {
    ensureWebBuilt();
    root = await mkdtemp(join(tmpdir(), 'nightless-web-extras-'));
    flag = join(root, 'break-flaky');
    const work = join(root, 'work');
    git(root, 'init', '-q', '--initial-branch=main', work);
    await writeFile(join(work, 'README'), 'hello\n');
    git(work, 'add', 'README');
    git(work, 'commit', '-q', '-m', 'first');
    repo = join(root, 'app.git');
    git(root, 'clone', '-q', '--bare', work, repo);
    // The fork's commit reaches the target repository as GitHub stores it: refs/pull/3/head.
    await writeFile(join(work, 'README'), 'hello from a stranger\n');
    git(work, 'commit', '-q', '-am', 'fork change');
    forkSha = git(work, 'rev-parse', 'HEAD');
    git(work, 'push', '-q', repo, 'HEAD:refs/pull/3/head');
    // `flaky` passes until the flag exists, then its step is SIGKILLed: `infrastructure`.
    await writeFile(
      join(root, 'nightless.yaml'),
      `pipeline: extras
sources:
  app:
    git: ${JSON.stringify(repo)}
    branch: main
    webhook_secret: \${env:EXTRAS_HOOK_SECRET}
    fallback_poll: off
    change_requests: [main]
jobs:
  build:
    inputs: [app]
    isolation: none
    steps:
      - name: test
        run: cat README
  flaky:
    inputs: [app]
    isolation: none
    retry: { on: [infrastructure], attempts: 2, backoff: 1s }
    steps:
      - name: deploy-check
        run: if [ -f ${JSON.stringify(flag)} ]; then kill -9 $$; fi
slos:
  reliability:
    indicator: reliability
    objective: 85
    window: 1h
    fast_burn: [4m, 2m]
    slow_burn: [10m, 5m]
  lead:
    indicator: lead_time
    objective: 50
    threshold: 10m
    window: 1h
`,
    );
    // First server: good builds of main and of the fork's request, then moved into the past.
    nl = await start();
    url = nl.url;
    expect((await forkOpened()).status).toBe(202);
    await until(
      async () => ((await builds('build')).length >= 2 ? true : undefined),
      30_000,
      'the builds of main and pr/3',
    );
    // One at a time: a forced trigger supersedes the job's queued build.
    for (let i = 0; i < 3; i++) {
      await until(allFinished, 30_000, 'the builds to finish');
      expect((await postJson('/api/jobs/build/trigger', { force: true })).status).toBe(202);
    }
    const done = await until(allFinished, 30_000, 'the first builds to finish');
    expect(done.map((b) => b.state)).toEqual(done.map(() => 'passed'));
    expect(done.length).toBeGreaterThanOrEqual(7);
    await nl.stop();
    const db = new Database(join(root, 'data', 'nightless.db'));
    try {
      db.prepare(
        'UPDATE builds SET queued_at = queued_at - ?, started_at = started_at - ?, finished_at = finished_at - ?',
      ).run(AGE_MS, AGE_MS, AGE_MS);
    } finally {
      db.close();
    }
    nl = await start();
    url = nl.url;
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    // A missing element fails the step that looked for it, soon, rather than the whole test.
    context.setDefaultTimeout(10_000);
  }, 150_000);

  afterAll(async () => {
    await browser?.close();
    await nl?.stop();
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it('shows the SLO burning live when infrastructure failures spend its budget', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${url}/slos`);
    const row = page.locator('tr[data-slo="reliability"]');
    await expect.poll(() => row.innerText()).toMatch(/✔ ok/);
    expect(await row.innerText()).toMatch(/100\.0 %/);
    await page.evaluate("window.samePage = 'yes'");

    await writeFile(flag, '');
    expect((await postJson('/api/jobs/flaky/trigger', { force: true })).status).toBe(202);
    await expect.poll(() => row.innerText(), { timeout: 15_000 }).toMatch(/⚠ burning/);
    const text = await row.innerText();
    // 7+ good builds and one bad in the window: 85 % wanted, attainment 87.5 % or more.
    expect(text).toMatch(/reliability over 1 h\b/);
    expect(text).toMatch(/overspent|bad events left/);
    expect(text).toMatch(/alert/);
    expect(await page.evaluate('window.samePage')).toBe('yes');
    // lead_time has its row like every indicator: versions whose whole trace finished in time.
    const lead = page.locator('tr[data-slo="lead"]');
    expect(await lead.innerText()).toMatch(/lead_time over 1 h\b/);
    const api = await getJson<{ slos: Array<{ status: string; bad: number }> }>('/api/slos');
    expect(api.slos[0]).toMatchObject({ status: 'burning', bad: 1 });
    await screenshot(page, 'slos');
    // On a phone the table scrolls inside its section, never the page.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(
      await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth'),
    ).toBeLessThanOrEqual(0);
    expect(await seriousA11yViolations(page)).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);

  it('says whose failure each unsuccessful build is, and links a retry to its first attempt', async () => {
    const [retry, first] = await until(
      async () => {
        const list = (await builds('flaky')).filter((b) => b.failureClass !== null);
        return list.length >= 2 && list[0]!.attempt === 2 && list[0]!.state !== 'running'
          ? list
          : undefined;
      },
      30_000,
      'the retry of flaky to end',
    );
    expect(retry!.failureClass).toBe('infrastructure');
    const { page, errors } = await newPage();
    await page.goto(`${url}/builds/${retry!.id}`);
    await expect
      .poll(() => page.getByTestId('failure-class').innerText())
      .toMatch(/Whose failure: ⚙ infrastructure — nightless or the machine failed/);
    await expect
      .poll(() => page.getByRole('region', { name: 'Related builds' }).innerText())
      .toContain(`retry of #${first!.id}`);
    // The shareable link is the API's `url` for the build (its `--public-url` base).
    expect(await page.locator('a[data-permalink]').getAttribute('href')).toBe(
      `${url}/builds/${retry!.id}`,
    );
    await page.goto(`${url}/builds/${first!.id}`);
    await expect
      .poll(() => page.getByRole('region', { name: 'Related builds' }).innerText())
      .toContain(`retried as #${retry!.id}`);

    await page.goto(`${url}/jobs/flaky`);
    const history = page.getByRole('region', { name: 'History' });
    await expect.poll(() => history.innerText()).toMatch(/✘ failed\s*⚙ infrastructure/);
    await page.goto(`${url}/`);
    await expect
      .poll(() => page.locator('a[data-job="flaky"] title').textContent())
      .toMatch(/failure: ⚙ infrastructure/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it("marks the fork's build untrusted and approves its head with the approve scope", async () => {
    const res = await postJson('/api/tokens', { name: 'trigger-only', scopes: ['trigger'] });
    expect(res.status).toBe(201);
    const triggerOnly = ((await res.json()) as { token: string }).token;
    const fork = (await builds('build')).find((b) => b.inputs[0]?.ref === 'pr/3');
    expect(fork).toBeDefined();

    const { page, errors } = await newPage(triggerOnly);
    await page.goto(`${url}/`);
    const newest = page.getByRole('region', { name: 'Newest builds' });
    await expect
      .poll(() =>
        newest
          .locator('tr')
          .filter({ has: page.getByRole('link', { name: `#${fork!.id}`, exact: true }) })
          .innerText(),
      )
      .toMatch(/pr\/3\s*⚠ fork, not approved/);

    await page.goto(`${url}/builds/${fork!.id}`);
    const panel = page.getByRole('region', { name: 'Change request' });
    await expect
      .poll(() => panel.innerText())
      .toMatch(/pr\/3 “Update the README with new information\.” by Octo-Stranger → main/);
    expect(await panel.innerText()).toMatch(/fork, not approved/);
    expect(await panel.innerText()).toMatch(/ran untrusted: without secrets or publish/);
    expect(await seriousA11yViolations(page)).toEqual([]);
    await screenshot(page, 'build-fork');

    // A token without the approve scope: the dialog says which scope and how to get one.
    await panel.getByRole('button', { name: 'Approve' }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.innerText()).toMatch(/lacks the approve scope/);
    expect(await dialog.innerText()).toContain('nightless token create --scope approve');
    await dialog.getByLabel('Token').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await panel.getByRole('button', { name: 'Approve' }).click();
    await expect
      .poll(() => panel.getByRole('status').innerText())
      .toMatch(new RegExp(`approved ${forkSha.slice(0, 10)} by .*: Rebuild to run it trusted`));
    await expect.poll(() => panel.innerText()).toMatch(/✔ fork, approved/);
    const { requests } = await getJson<{
      requests: Array<{ number: number; approved: boolean }>;
    }>('/api/requests');
    expect(requests).toEqual([expect.objectContaining({ number: 3, approved: true })]);
    // The browser logs the refused approval's 403 itself; nothing else went wrong.
    expect(errors.filter((e) => !/status of 403 \(Forbidden\)/.test(e))).toEqual([]);
    expect(errors.length).toBe(1);
    await page.close();
  }, 60_000);

  it('traces a change request by its number', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${url}/trace?version=pr/3`);
    const result = page.getByRole('region', { name: 'Trace result' });
    await expect.poll(() => result.innerText()).toContain(`app @ ${forkSha.slice(0, 10)}`);
    expect(await result.innerText()).toMatch(/pr\/3 “Update the README/);
    await page.locator('li[data-trace-job="build"]').first().waitFor();
    expect(await page.locator('li[data-trace-job="flaky"]').count()).toBeGreaterThan(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
