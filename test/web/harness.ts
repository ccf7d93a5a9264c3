import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { chromium, type Browser, type Page } from 'playwright-core';
import { prepareDemo, type Demo } from '../../src/app/demo.js';
import { storeHookTokenIssuer } from '../../src/app/hook-token-issuer.js';
import {
  startNightless,
  type Nightless,
  type StartOptions,
} from '../../src/app/start-nightless.js';
import { ensureHookToken } from '../../src/ingest/git-hooks/hook-token.js';
import { installHook } from '../../src/ingest/git-hooks/install-hook.js';

export const repoRoot = join(import.meta.dirname, '..', '..');
const webDir = join(repoRoot, 'web');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/**
 * Builds `web/` into `web/dist` when a source file is newer than the built page (or it is
 * missing). Test files run in parallel processes: one builds (holding `web/.build-lock`), the
 * others wait for it (at most two minutes) instead of emptying `web/dist` under its feet.
 */
export function ensureWebBuilt(): void {
  const index = join(webDir, 'dist', 'index.html');
  const lock = join(webDir, '.build-lock');
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) =>
        e.isDirectory() ? newest(join(dir, e.name)) : statSync(join(dir, e.name)).mtimeMs,
      ),
    );
  const fresh = () => existsSync(index) && statSync(index).mtimeMs >= newest(join(webDir, 'src'));
  const deadline = Date.now() + 120_000;
  while (!fresh()) {
    try {
      mkdirSync(lock);
    } catch {
      if (Date.now() > deadline)
        throw new Error(`${lock} held for two minutes: remove it if stale`);
      execFileSync('sleep', ['0.2']);
      continue;
    }
    try {
      execFileSync(
        process.execPath,
        [
          join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js'),
          'build',
          '--config',
          join(webDir, 'vite.config.ts'),
          '--logLevel',
          'warn',
        ],
        {
          cwd: repoRoot,
          stdio: 'inherit',
          timeout: 120_000,
          env: { ...process.env, NODE_ENV: 'production' },
        },
      );
    } finally {
      rmSync(lock, { recursive: true, force: true, maxRetries: 5 });
    }
  }
}

/** Headless Chromium as `.ci/run` installs it; a test file shares one. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    timeout: 30_000,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export function chromiumMissing(): boolean {
  if (existsSync(CHROMIUM)) return false;
  if (process.env.CI === 'true')
    throw new Error(`${CHROMIUM} is missing (.ci/run installs Debian's chromium)`);
  console.warn(`SKIPPED: the dashboard's browser tests need Chromium at ${CHROMIUM}`);
  return true;
}

export interface DemoServer {
  readonly nl: Nightless;
  readonly demo: Demo;
  readonly token: string;
}

/**
 * The demo pipeline (`serve --demo`: build → integration over a local repository) served in
 * process with two build slots and the demo's git hook installed, so a `git push` in
 * `demo.workTree` reaches the server as it does for a user.
 */
export async function startDemo(
  root: string,
  token: string,
  extra: Partial<StartOptions> = {},
): Promise<DemoServer> {
  const dataDir = join(root, 'data');
  const demo = await prepareDemo(dataDir);
  const before = process.env.NIGHTLESS_TOKEN;
  process.env.NIGHTLESS_TOKEN = token;
  let nl: Nightless;
  try {
    nl = await startNightless({
      configPath: demo.configPath,
      dataDir,
      host: '127.0.0.1',
      port: 0,
      slots: 2,
      logger: pino({ level: 'silent' }),
      watchConfig: false,
      ...extra,
    });
  } finally {
    if (before === undefined) delete process.env.NIGHTLESS_TOKEN;
    else process.env.NIGHTLESS_TOKEN = before;
  }
  const hookToken = await ensureHookToken(storeHookTokenIssuer(nl.access), demo.bareRepo);
  await installHook(demo.bareRepo, { serverUrl: nl.url, tokenFile: hookToken.file });
  return { nl, demo, token };
}

/** Console errors and failed page scripts of a page; the tests expect none. */
export function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(String(e)));
  return errors;
}

const axeSource = (): string =>
  readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** axe-core's serious and critical violations on the page as it is now (rule id + first target). */
export async function seriousA11yViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: axeSource() });
  // A string, evaluated in the page: the test's TypeScript has no DOM types.
  const result = await page.evaluate<
    Array<{ id: string; impact: string | null; help: string; target: string }>
  >(`axe.run(document, { resultTypes: ['violations'] }).then((r) =>
    r.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      target: JSON.stringify(v.nodes[0]?.target ?? []),
    })))`);
  return result
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.target}`);
}

/** Screenshots illustrate docs/ui.md; they are written there only when asked (`NIGHTLESS_SCREENSHOTS=1`). */
export async function screenshot(page: Page, name: string): Promise<Buffer> {
  const png = await page.screenshot({ fullPage: false });
  if (process.env.NIGHTLESS_SCREENSHOTS === '1') {
    const dir = join(repoRoot, 'docs', 'img');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `ui-${name}.png`), png);
  }
  return png;
}
