import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Nightless } from '../../src/app/start-nightless.js';
import { startWithToken, writeOneJobPipeline } from '../../src/testing/token-server.js';
import { chromiumMissing, ensureWebBuilt, launchChromium, watchConsole } from './harness.js';

/** A server whose reads need a token (`--read-auth`): the dashboard asks once, then reads. */
const skip = chromiumMissing();
const TOKEN = 'read-auth-web-token';
let root: string;
let nl: Nightless;
let browser: Browser;

describe.skipIf(skip)('the dashboard on a server with protected reads', () => {
  beforeAll(async () => {
    ensureWebBuilt();
    root = await mkdtemp(join(tmpdir(), 'nightless-web-auth-'));
    await writeOneJobPipeline(root);
    nl = await startWithToken(root, TOKEN, { readAuth: true });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await nl?.stop();
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it('serves the page without a token, asks for one, and reads with it for the rest of the tab', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchConsole(page);
    await page.goto(`${nl.url}/sources`);
    const dialog = page.getByRole('dialog');
    await expect.poll(() => dialog.innerText()).toMatch(/Reading this server needs an API token/);
    expect(await page.getByRole('alert').first().innerText()).toMatch(/needs an API token/);
    await dialog.getByLabel('Token').fill(TOKEN);
    await dialog.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('region', { name: 'source app' }).waitFor();
    // Kept for the tab: another page reads without asking again, and no cookie carries it.
    await page.getByRole('link', { name: 'Pipeline' }).click();
    await page.locator('a[data-job="build"]').waitFor();
    expect(await dialog.isVisible()).toBe(false);
    expect(await context.cookies()).toEqual([]);
    // The browser reports each refused request; nothing else may fail.
    expect(errors.filter((e) => !/status of 401/.test(e))).toEqual([]);
    await context.close();
  });
});
