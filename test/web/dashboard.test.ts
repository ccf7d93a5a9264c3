import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../../src/testing/git.js';
import {
  chromiumMissing,
  ensureWebBuilt,
  launchChromium,
  screenshot,
  seriousA11yViolations,
  startDemo,
  watchConsole,
  type DemoServer,
} from './harness.js';

/**
 * The dashboard in real headless Chromium against the demo pipeline served in process: what a
 * person sees on each page, live updates without a reload, the log as it is written, actions
 * with and without a token, the trace, accessibility. One server and one browser for the file.
 */

const skip = chromiumMissing();
const TOKEN = `web-test-${randomBytes(6).toString('hex')}`;
let root: string;
let server: DemoServer;
let browser: Browser;
let context: BrowserContext;
let url: string;

interface BuildRow {
  id: number;
  job: string;
  state: string;
}

async function builds(job: string): Promise<BuildRow[]> {
  const res = await fetch(`${url}/api/builds?job=${job}&limit=20`, {
    signal: AbortSignal.timeout(5000),
  });
  return ((await res.json()) as { builds: BuildRow[] }).builds;
}

async function until<T>(probe: () => Promise<T | undefined>, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Commits `files` in the demo's work tree and pushes: the installed hook tells the server. */
async function push(files: Record<string, string>, message: string): Promise<string> {
  const work = server.demo.workTree;
  for (const [name, text] of Object.entries(files))
    await writeFile(join(work, name), text, { mode: 0o755 });
  git(work, 'add', '.');
  git(work, 'commit', '-q', '-m', message);
  git(work, 'push', '-q', 'origin', 'main');
  return git(work, 'rev-parse', 'HEAD');
}

/** A test script that prints `before`, waits (at most 20 s) for `flag` to exist, then prints `after`. */
function gatedTest(flag: string, before: string, after: string): string {
  return `#!/usr/bin/env bash
set -eu
echo "${before}"
for _ in $(seq 1 200); do [ -f "${flag}" ] && break; sleep 0.1; done
echo -e "\\033[32m${after}\\033[0m"
out=$(./greet.sh tester)
[ "$out" = "hello, tester" ]
mkdir -p coverage
printf 'SF:greet.sh\\nDA:2,1\\nDA:3,1\\nLF:2\\nLH:2\\nend_of_record\\n' > coverage/lcov.info
`;
}

async function newPage(): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  return { page, errors: watchConsole(page) };
}

describe.skipIf(skip)('the dashboard in Chromium', () => {
  beforeAll(async () => {
    ensureWebBuilt();
    root = await mkdtemp(join(tmpdir(), 'nightless-web-'));
    server = await startDemo(root, TOKEN);
    url = server.nl.url;
    await until(
      async () => ((await builds('integration'))[0]?.state === 'passed' ? true : undefined),
      30_000,
      'the demo to build and integrate',
    );
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  }, 90_000);

  afterAll(async () => {
    await browser?.close();
    await server?.nl.stop();
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it("shows the demo's jobs with their latest state on the pipeline page", async () => {
    const { page, errors } = await newPage();
    await page.goto(`${url}/`);
    await expect.poll(() => page.locator('a[data-job="build"]').textContent()).toMatch(/passed/);
    await expect
      .poll(() => page.locator('a[data-job="integration"]').textContent())
      .toMatch(/passed/);
    const rows = await page.locator('table[aria-label="Jobs"] tbody tr').allInnerTexts();
    expect(rows.join('\n')).toMatch(/build\s+✔ passed/);
    expect(rows.join('\n')).toMatch(/integration\s+✔ passed/);
    await screenshot(page, 'pipeline');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('turns the job running and then passed after a git push, without a reload', async () => {
    const { page, errors } = await newPage();
    await page.goto(`${url}/`);
    await expect.poll(() => page.locator('a[data-job="build"]').textContent()).toMatch(/passed/);
    await page.evaluate("window.samePage = 'yes'");
    const flag = join(root, 'flag-push');
    await push({ 'test.sh': gatedTest(flag, 'testing', 'tests done') }, 'slower test');
    await expect
      .poll(() => page.locator('a[data-job="build"]').textContent(), { timeout: 15_000 })
      .toMatch(/running/);
    await writeFile(flag, '');
    await expect
      .poll(() => page.locator('a[data-job="build"]').textContent(), { timeout: 20_000 })
      .toMatch(/passed/);
    expect(await page.evaluate('window.samePage')).toBe('yes');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('streams a log line printed after the build page opened', async () => {
    const before = (await builds('build'))[0]?.id ?? 0;
    const flag = join(root, 'flag-log');
    const nonce = randomBytes(4).toString('hex');
    await push(
      { 'test.sh': gatedTest(flag, `waiting-${nonce}`, `printed-after-open-${nonce}`) },
      'log test',
    );
    const running = await until(
      async () => (await builds('build')).find((b) => b.id > before && b.state === 'running'),
      15_000,
      'the pushed build to run',
    );
    const { page, errors } = await newPage();
    await page.goto(`${url}/builds/${running.id}`);
    const log = page.getByRole('log');
    await log.getByText(`waiting-${nonce}`).waitFor({ timeout: 15_000 });
    expect(await log.innerText()).not.toContain(`printed-after-open-${nonce}`);
    await writeFile(flag, '');
    const late = log.getByText(`printed-after-open-${nonce}`);
    await late.waitFor({ timeout: 15_000 });
    // ANSI colour codes are rendered as colour, not printed as escape characters.
    expect(await late.getAttribute('class')).toContain('fg-2');
    await expect.poll(() => page.locator('h1').innerText(), { timeout: 15_000 }).toMatch(/passed/);
    await expect
      .poll(() => page.getByRole('region', { name: 'Steps' }).innerText())
      .toMatch(/test — exit 0/);
    const outputs = await page.getByRole('region', { name: 'Outputs' }).innerText();
    expect(outputs).toMatch(/dist\/greeter\.tgz sha256 [0-9a-f]{64}/);
    expect(await page.getByRole('region', { name: 'Coverage' }).innerText()).toMatch(
      /lines 100\.0 %/,
    );
    expect(await page.getByRole('region', { name: 'Why' }).innerText()).toMatch(/new-version/);
    await screenshot(page, 'build');
    expect(errors).toEqual([]);

    // A line anchor survives a reload: the URL names the line's byte offset.
    const anchored = page.locator('.line', { hasText: `printed-after-open-${nonce}` });
    const offset = await anchored.getAttribute('data-offset');
    await page.goto(`${url}/builds/${running.id}#log-${offset}`);
    await expect
      .poll(() => page.locator('.line.anchored').innerText())
      .toContain(`printed-after-open-${nonce}`);
    await page.close();
  });

  it('explains that Trigger needs a token, then triggers with one', async () => {
    const fresh = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await fresh.newPage();
    const errors = watchConsole(page);
    await page.goto(`${url}/jobs/build`);
    await page.getByRole('button', { name: 'Force' }).click();
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.innerText()).toMatch(/needs an API token/);
    await page.getByRole('region', { name: 'Actions' }).getByRole('alert').waitFor();
    expect(await page.getByRole('region', { name: 'Actions' }).innerText()).toMatch(
      /needs an API token/,
    );
    await dialog.getByLabel('Token').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Save' }).click();
    const before = (await builds('build'))[0]?.id ?? 0;
    await page.getByRole('button', { name: 'Force' }).click();
    await page.waitForURL(/\/builds\/\d+$/, { timeout: 10_000 });
    const id = Number(/\/builds\/(\d+)$/.exec(page.url())?.[1]);
    expect(id).toBeGreaterThan(before);
    await expect.poll(() => page.locator('h1').innerText()).toContain(`Build #${id} of build`);
    await page.goto(`${url}/jobs/build`);
    await page.getByRole('region', { name: 'History' }).getByText(`#${id}`).waitFor();
    await screenshot(page, 'job');
    expect(errors).toEqual([]);
    await fresh.close();
  });

  it('cancels a running build from its page', async () => {
    const before = (await builds('build'))[0]?.id ?? 0;
    // The flag never appears: the step would wait its full 20 s unless cancelled.
    await push({ 'test.sh': gatedTest(join(root, 'never'), 'long step', 'not reached') }, 'slow');
    const running = await until(
      async () => (await builds('build')).find((b) => b.id > before && b.state === 'running'),
      15_000,
      'the pushed build to run',
    );
    const withToken = await browser.newContext();
    await withToken.addInitScript(
      `sessionStorage.setItem('nightless.token', ${JSON.stringify(TOKEN)})`,
    );
    const page = await withToken.newPage();
    const errors = watchConsole(page);
    await page.goto(`${url}/builds/${running.id}`);
    await page.getByRole('log').getByText('long step').waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: 'Cancel' }).click();
    await expect
      .poll(() => page.locator('h1').innerText(), { timeout: 15_000 })
      .toMatch(/cancelled/);
    expect((await builds('build')).find((b) => b.id === running.id)?.state).toBe('cancelled');
    expect(errors).toEqual([]);
    await withToken.close();
  });

  it('triggers with a pinned input and checks a source now, with a token', async () => {
    const withToken = await browser.newContext();
    await withToken.addInitScript(
      `sessionStorage.setItem('nightless.token', ${JSON.stringify(TOKEN)})`,
    );
    const page = await withToken.newPage();
    const errors = watchConsole(page);
    const first = git(server.demo.workTree, 'rev-list', '--max-parents=0', 'HEAD');
    await page.goto(`${url}/jobs/build`);
    await page.getByText('Trigger with pinned inputs').click();
    await page.getByLabel('app version (or unique prefix)').fill(first.slice(0, 8));
    await page.getByRole('button', { name: 'Trigger pinned' }).click();
    await page.waitForURL(/\/builds\/\d+$/, { timeout: 10_000 });
    await expect
      .poll(() => page.getByRole('region', { name: 'Inputs' }).innerText())
      .toContain(first.slice(0, 10));
    expect(await page.locator('h1 + p').innerText()).toMatch(/forced by dashboard \(1 pinned\)/);
    await page.goto(`${url}/sources`);
    await page.getByRole('button', { name: 'Check app now' }).click();
    await page.getByRole('status').getByText('checked').waitFor({ timeout: 15_000 });
    expect(errors).toEqual([]);
    await withToken.close();
  });

  it('follows a pushed commit through the trace to the downstream job', async () => {
    const { page, errors } = await newPage();
    const greet = `#!/usr/bin/env bash\nset -eu\n# ${randomBytes(4).toString('hex')}\necho "hello, \${1:-world}"\n`;
    const sha = await push(
      {
        'greet.sh': greet,
        'test.sh': gatedTest('/nonexistent', 'go', 'done').replace(/for _ .*\n/, ''),
      },
      'new greeter',
    );
    await page.goto(`${url}/trace?version=${sha.slice(0, 8)}`);
    const build = page.locator('li[data-trace-job="build"]').first();
    await build.waitFor({ timeout: 15_000 });
    const integration = page.locator('li[data-trace-job="integration"]').first();
    await expect
      .poll(async () => ((await integration.count()) > 0 ? integration.innerText() : ''), {
        timeout: 30_000,
      })
      .toMatch(/integration #\d+ ✔ passed/);
    expect(
      await page.getByRole('region', { name: 'Trace result' }).locator('h2').innerText(),
    ).toContain(sha.slice(0, 10));
    await screenshot(page, 'trace');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('has no console errors and no serious accessibility violations on any page', async () => {
    const id = (await builds('build'))[0]!.id;
    const pages: Array<[string, string, string]> = [
      ['pipeline', '/', 'Pipeline'],
      ['job', '/jobs/build', 'Job build'],
      ['build', `/builds/${id}`, `Build #${id}`],
      ['trace', '/trace', 'Trace'],
      ['sources', '/sources', 'Sources'],
      ['deliveries', '/deliveries', 'Deliveries'],
      ['decisions', '/decisions', 'Decisions'],
      ['slos', '/slos', 'SLOs'],
    ];
    for (const [name, path, heading] of pages) {
      const { page, errors } = await newPage();
      await page.goto(`${url}${path}`);
      await expect.poll(() => page.locator('h1').innerText(), { message: path }).toContain(heading);
      if (name === 'sources') await page.getByText('next check').first().waitFor();
      if (name === 'decisions') await page.getByRole('table', { name: 'Decisions' }).waitFor();
      if (['sources', 'deliveries', 'decisions'].includes(name)) await screenshot(page, name);
      expect(await seriousA11yViolations(page), path).toEqual([]);
      expect(errors, path).toEqual([]);
      await page.close();
    }
  }, 90_000);

  it('is readable on a phone-width screen, in the dark theme', async () => {
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      colorScheme: 'dark',
    });
    const page = await phone.newPage();
    const errors = watchConsole(page);
    await page.goto(`${url}/`);
    await page.locator('a[data-job="build"]').waitFor();
    const overflow = await page.evaluate<number>(
      'document.documentElement.scrollWidth - window.innerWidth',
    );
    expect(overflow).toBeLessThanOrEqual(0);
    const bg = await page.evaluate<string>('getComputedStyle(document.body).backgroundColor');
    expect(bg).toBe('rgb(13, 17, 23)');
    expect(await seriousA11yViolations(page)).toEqual([]);
    await screenshot(page, 'pipeline-phone-dark');
    expect(errors).toEqual([]);
    await phone.close();
  });

  it('moves through the pages with the keyboard', async () => {
    const { page } = await newPage();
    await page.goto(`${url}/`);
    await page.locator('a[data-job="build"]').waitFor();
    await page.keyboard.press('Tab'); // skip link
    await page.keyboard.press('Tab'); // brand
    await page.keyboard.press('Tab'); // Pipeline
    await page.keyboard.press('Tab'); // Trace
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/trace$/);
    await page.close();
  });
});
