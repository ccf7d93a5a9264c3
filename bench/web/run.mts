/**
 * Dashboard bench (bench/README.md, "Dashboard"): a store with 10,000 builds of 200 jobs served
 * by the real `startNightless`, the built dashboard in headless Chromium.
 *
 *   npx tsx bench/web/run.mts [--builds=10000] [--jobs=200] [--runs=7] [--log-mb=100] [--no-write]
 *
 * (1) pipeline page: navigation → graph with every job and the newest-builds table rendered;
 * (2) job page: navigation → its build history rendered; (3) gzipped bundle; (4) a build whose
 * log is `--log-mb` MB: open at the top (`#log-0`), press End → the log's last line on screen.
 * Each browser figure is compared with the simplest baseline in the same run: the same page's
 * data fetched by the same browser as JSON, with nothing rendered.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import type { Page } from 'playwright-core';
import { startNightless } from '../../src/app/start-nightless.js';
import { loadPipelineFile } from '../../src/config/index.js';
import type { Decision } from '../../src/core/scheduler/index.js';
import { definitionHash } from '../../src/core/fingerprint.js';
import { logPath } from '../../src/executor/log-reader.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { seededRepo } from '../../src/testing/git.js';
import { ensureWebBuilt, launchChromium } from '../../test/web/harness.js';
import { benchArgs, repoRoot, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';

const args = benchArgs();
const BUILDS = Number(args.get('builds') ?? 10_000);
const JOBS = Number(args.get('jobs') ?? 200);
const RUNS = Number(args.get('runs') ?? 7);
const LOG_MB = Number(args.get('log-mb') ?? 100);
const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);
const sha = (s: string): string => createHash('sha1').update(s).digest('hex');

/** 200 jobs in a binary tree: j0 builds the repository, every other job consumes its parent's output. */
function pipelineYaml(repo: string): string {
  const jobs = Array.from({ length: JOBS }, (_, i) => {
    const input = i === 0 ? 'app' : `j${Math.floor((i - 1) / 2)}.out`;
    return `  j${i}:\n    inputs: [${input}]\n    steps: ['true']\n    outputs: { out: out.txt }\n`;
  });
  return `sources:\n  app:\n    git: ${JSON.stringify(repo)}\n    branch: main\n    fallback_poll: off\njobs:\n${jobs.join('')}`;
}

async function populate(dataDir: string, configPath: string): Promise<number> {
  const pipeline = await loadPipelineFile(configPath);
  const store = await openSqliteStore({ path: join(dataDir, 'nightless.db') });
  await store.sources.syncSources([{ name: 'app', kind: 'git', url: 'file:///bench' }]);
  await mkdir(join(dataDir, 'logs'), { recursive: true });
  const now = Date.now() - BUILDS * 1000;
  let lastId = 0;
  for (let i = 0; i < BUILDS; i++) {
    const name = `j${i % JOBS}`;
    const def = pipeline.jobs.get(name);
    if (!def) throw new Error(`no job ${name}`);
    const version = sha(`commit ${i}`);
    const at = now + i * 1000;
    await store.inbox.appendEvent({
      kind: 'source',
      source: 'app',
      version,
      ref: 'main',
      origin: 'webhook',
      deliveryId: `d-${i}`,
      changedPaths: null,
      producedBy: null,
      receivedAt: at,
    });
    const [event] = await store.scheduler.pendingEvents(1);
    if (!event) throw new Error('no pending event');
    const input = {
      source: 'app',
      version,
      origin: 'webhook' as const,
      eventId: event.id,
      ref: 'main',
    };
    const decisions: Decision[] = [
      {
        kind: 'queue-build',
        rule: 'new-version',
        detail: `${name}: app@${version.slice(0, 7)}`,
        job: name,
        source: 'app',
        version,
        fingerprint: sha(`fp ${i}`),
        definitionHash: definitionHash(def),
        inputs: [input],
        cause: { kind: 'version', source: 'app', version, eventId: event.id },
        concurrency: { group: name, limit: 1, supersede: true },
        forced: false,
        supersedes: [],
        cancels: [],
      },
    ];
    await store.scheduler.applyDecisions(event, decisions, at);
    const build = await store.queue.claimNextBuild('bench', at);
    if (!build) throw new Error('nothing to claim');
    const text = `${at} s ==> step "true" (1/1)\n${at + 5} s <== exit 0 in 5 ms\n`;
    await writeFile(logPath(dataDir, build.id), text);
    await store.queue.finishBuild(
      build.id,
      {
        result: {
          state: i % 13 === 0 ? 'failed' : 'passed',
          outputs: [],
          coverage: { lines: 80 + (i % 7), branches: null },
          warnings: [],
        },
        logBytes: text.length,
        outputEvents: [],
      } as never,
      at + 1500,
    );
    lastId = build.id;
    if (i % 2000 === 0) log(`${i} builds`);
  }
  await store.close();
  return lastId;
}

/** A log of `mb` MB in the stored format, written in 8 MiB blocks; returns its size. */
async function writeBigLog(path: string, mb: number): Promise<{ size: number; last: string }> {
  const fh = await open(path, 'w');
  let size = 0;
  let n = 0;
  const target = mb * 1024 * 1024;
  while (size < target) {
    const lines: string[] = [];
    for (let k = 0; k < 100_000; k++, n++)
      lines.push(
        `1764000000000 o line ${n}: \x1b[32mok\x1b[0m compiling module ${n % 977} of the big build\n`,
      );
    const block = lines.join('');
    await fh.write(block);
    size += Buffer.byteLength(block);
  }
  const last = `1764000000000 s the very last line of the big log\n`;
  await fh.write(last);
  await fh.close();
  return { size: size + Buffer.byteLength(last), last: 'the very last line of the big log' };
}

function stats(xs: number[]): { p50: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return {
    p50: s[Math.floor((s.length - 1) / 2)] ?? NaN,
    min: s[0] ?? NaN,
    max: s[s.length - 1] ?? NaN,
  };
}
const ms = (x: { p50: number; min: number; max: number }) =>
  `${x.p50.toFixed(0)} ms (${x.min.toFixed(0)}–${x.max.toFixed(0)})`;

/** ms from navigation start until `ready` holds in the page. */
async function timeTo(page: Page, url: string, ready: string): Promise<number> {
  await page.goto('about:blank');
  const t0 = Date.now();
  await page.goto(url, { waitUntil: 'commit' });
  await page.waitForFunction(ready, undefined, { timeout: 30_000, polling: 'raf' });
  return Date.now() - t0;
}

/** ms for the same browser to fetch the JSON a page needs (the baseline: data, no rendering). */
async function fetchTime(page: Page, base: string, paths: string[]): Promise<number> {
  await page.goto(`${base}/healthz`);
  return page.evaluate(`(async () => {
    const t0 = performance.now();
    await Promise.all(${JSON.stringify(paths)}.map((p) => fetch(p).then((r) => r.arrayBuffer())));
    return performance.now() - t0;
  })()`);
}

async function main(): Promise<void> {
  ensureWebBuilt();
  const root = await mkdtemp(join(tmpdir(), 'nightless-bench-web-'));
  const dataDir = join(root, 'data');
  const repo = seededRepo(root);
  const configPath = join(root, 'nightless.yaml');
  await writeFile(configPath, pipelineYaml(repo.bare));
  const t0 = Date.now();
  const lastId = await populate(dataDir, configPath);
  log(`populated ${BUILDS} builds in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const big = await writeBigLog(logPath(dataDir, lastId), LOG_MB);
  // The store's log size of the build says how long the log is.
  const db = new BetterSqlite3(join(dataDir, 'nightless.db'));
  db.prepare('update builds set log_bytes = ? where id = ?').run(big.size, lastId);
  db.close();
  const nl = await startNightless({
    configPath,
    dataDir,
    host: '127.0.0.1',
    port: 0,
    slots: 0,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
  const browser = await launchChromium();
  const page = await (
    await browser.newContext({ viewport: { width: 1280, height: 800 } })
  ).newPage();
  const url = nl.url;
  const rows: FigureRow[] = [];
  try {
    const pipelineReady = `document.querySelectorAll('a[data-job]').length === ${JOBS} && document.querySelectorAll('table[aria-label="Builds"] tbody tr').length > 0`;
    const jobReady = `document.querySelectorAll('section[aria-label="History"] tbody tr').length === ${Math.min(50, Math.floor(BUILDS / JOBS))}`;
    const logReady = `[...document.querySelectorAll('.line')].some((l) => l.textContent.includes(${JSON.stringify(big.last)}))`;
    const measure = async (f: () => Promise<number>) => {
      await f(); // warm-up: the first run pays for the browser's and the server's cold caches
      const xs: number[] = [];
      for (let i = 0; i < RUNS; i++) xs.push(await f());
      return stats(xs);
    };
    const pipe = await measure(() => timeTo(page, `${url}/`, pipelineReady));
    const pipeBase = await measure(() =>
      fetchTime(page, url, ['/api/jobs', '/api/sources', '/api/builds?limit=25']),
    );
    rows.push({
      figure: `(1) pipeline page usable: ${JOBS} jobs in the graph + newest builds, p50 (min–max of ${RUNS})`,
      target: '< 1 s',
      measured: ms(pipe),
      met: pipe.p50 < 1000,
      baseline: `${ms(pipeBase)} (its JSON, fetched)`,
      ratio: `${(pipe.p50 / pipeBase.p50).toFixed(1)}×`,
    });
    const job = await measure(() => timeTo(page, `${url}/jobs/j7`, jobReady));
    const jobBase = await measure(() =>
      fetchTime(page, url, ['/api/jobs', '/api/builds?job=j7&limit=50']),
    );
    rows.push({
      figure: `(2) job page usable: build list of 50 (of ${BUILDS / JOBS}), p50 (min–max)`,
      target: '< 1 s',
      measured: ms(job),
      met: job.p50 < 1000,
      baseline: `${ms(jobBase)} (its JSON, fetched)`,
      ratio: `${(job.p50 / jobBase.p50).toFixed(1)}×`,
    });

    const assets = join(repoRoot, 'web', 'dist', 'assets');
    let gz = 0;
    let raw = 0;
    for (const f of await readdir(assets)) {
      const b = await readFile(join(assets, f));
      raw += b.length;
      gz += gzipSync(b, { level: 9 }).length;
    }
    const preact = gzipSync(
      await readFile(join(repoRoot, 'node_modules', 'preact', 'dist', 'preact.mjs')),
      { level: 9 },
    ).length;
    rows.push({
      figure: '(3) bundle (JS + CSS), gzipped',
      target: '< 250 KB',
      measured: `${(gz / 1024).toFixed(1)} KB (${(raw / 1024).toFixed(0)} KB raw)`,
      met: gz < 250 * 1024,
      baseline: `${(preact / 1024).toFixed(1)} KB (preact alone)`,
      ratio: `${(gz / preact).toFixed(1)}×`,
    });

    const end = await measure(async () => {
      await timeTo(
        page,
        `${url}/builds/${lastId}#log-0`,
        `document.querySelectorAll('.line').length > 0`,
      );
      const t = Date.now();
      await page.getByRole('button', { name: 'End' }).click();
      await page.waitForFunction(logReady, undefined, { timeout: 30_000, polling: 'raf' });
      return Date.now() - t;
    });
    const open = await measure(() => timeTo(page, `${url}/builds/${lastId}`, logReady));
    const tail = await measure(() =>
      fetchTime(page, url, [
        `/api/builds/${lastId}/log?offset=${big.size - 600 * 1024}&limit=${600 * 1024}`,
      ]),
    );
    rows.push({
      figure: `(4) ${LOG_MB} MB log: from its top, End → last line on screen, p50 (min–max)`,
      target: '< 2 s',
      measured: ms(end),
      met: end.p50 < 2000,
      baseline: `${ms(tail)} (its last 600 KiB, fetched)`,
      ratio: `${(end.p50 / tail.p50).toFixed(1)}×`,
    });
    rows.push({
      figure: `(4) same log: open the build page → last line on screen, p50 (min–max)`,
      target: '< 2 s',
      measured: ms(open),
      met: open.p50 < 2000,
      baseline: '—',
      ratio: '—',
    });
    const heap = await page.evaluate<number>(
      'performance.memory ? performance.memory.usedJSHeapSize : 0',
    );
    const report = [
      `Latest run: ${new Date().toISOString()} — ${machine()}, Chromium headless (${browser.version()}); load average ${loadAverage()}; ${BUILDS} builds of ${JOBS} jobs in SQLite, served by \`startNightless\`; ${RUNS} runs per figure after one warm-up; command: \`npx tsx bench/web/run.mts${process.argv
        .slice(2)
        .map((a) => ` ${a}`)
        .join('')}\`.`,
      '',
      figureTable(rows),
      '',
      `- JS heap of the page after the log runs: ${(heap / 2 ** 20).toFixed(1)} MiB (the ${LOG_MB} MB log is never held whole: a few 512 KiB chunks).`,
    ].join('\n');
    process.stdout.write(`${report}\n`);
    if (!args.has('no-write'))
      log(`wrote ${writeResultsSection('web', '## Dashboard (bench/web)', report)}`);
  } finally {
    await browser.close();
    await nl.stop();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
