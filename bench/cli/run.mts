/**
 * CLI and start-up bench. See bench/README.md.
 *
 *   npx tsx bench/cli/run.mts [--runs=20] [--rounds=3] [--starts=3] [--only=status,start]
 *                             [--no-write]
 *
 * status: `node bin/nightless.js status` (built `dist/`) against a running local server, cold
 *         process each time, interleaved with `node -e 0` (the floor of any node CLI);
 *         p50 per round, `--rounds` rounds of `--runs` runs; `nightless --help` (every command
 *         registered) timed in the same rounds.
 * start:  `npm start -- --port 0 --data-dir <tmp>` on this already built checkout → the demo's
 *         first build passed (the server's `build finished` log line, watched, not polled);
 *         `--starts` times, against `npm --version`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, repoRoot, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import { nowMs, run, sleep, startServer, TOKEN, waitForOutput } from '../latency/world.mjs';

const args = benchArgs();
const RUNS = Number(args.get('runs') ?? 20);
const ROUNDS = Number(args.get('rounds') ?? 3);
const STARTS = Number(args.get('starts') ?? 3);
const only = new Set((args.get('only') ?? 'status,start').split(','));
/** `--before=DIR`: another built checkout whose `status` is timed in the same rounds. */
const before = args.get('before');
const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);
const bin = join(repoRoot, 'bin', 'nightless.js');

async function timed(cmd: string, argv: readonly string[]): Promise<number> {
  const t0 = nowMs();
  await run(cmd, argv, { cwd: repoRoot });
  return nowMs() - t0;
}
const p50 = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? NaN;
const f0 = (x: number): string => x.toFixed(0);
const spread = (xs: readonly number[]): string =>
  `${f0(Math.min(...xs))}–${f0(Math.max(...xs))} ms`;

const rows: FigureRow[] = [];
const notes: string[] = [];
const started = Date.now();
const loadStart = loadAverage();

if (only.has('status')) {
  const dir = await mkdtemp(join(tmpdir(), 'nightless-bench-cli-'));
  const config = join(dir, 'nightless.yaml');
  await writeFile(config, 'jobs:\n  hello:\n    steps:\n      - echo hello\n');
  const server = await startServer(dir, config, join(dir, 'data'));
  const cli = ['status', '--server', server.url, '--token', TOKEN];
  try {
    await timed(process.execPath, [bin, ...cli]); // warm the page cache
    const medians: number[] = [];
    const helps: number[] = [];
    const floors: number[] = [];
    const befores: number[] = [];
    const beforeBin = before === undefined ? null : join(before, 'bin', 'nightless.js');
    for (let r = 0; r < ROUNDS; r++) {
      const xs: number[] = [];
      const hs: number[] = [];
      const fs: number[] = [];
      const bs: number[] = [];
      for (let i = 0; i < RUNS; i++) {
        fs.push(await timed(process.execPath, ['-e', '0']));
        xs.push(await timed(process.execPath, [bin, ...cli]));
        hs.push(await timed(process.execPath, [bin, '--help']));
        if (beforeBin !== null) bs.push(await timed(process.execPath, [beforeBin, ...cli]));
      }
      medians.push(p50(xs));
      helps.push(p50(hs));
      floors.push(p50(fs));
      if (bs.length > 0) befores.push(p50(bs));
      log(
        `status round ${r + 1}: p50 ${f0(p50(xs))} ms, --help ${f0(p50(hs))} ms, node -e 0 ${f0(p50(fs))} ms`,
      );
    }
    if (befores.length > 0)
      notes.push(
        `status of the checkout at \`${before}\` in the same rounds: p50 per round ${spread(befores)} (${befores.map((b, i) => `${(b / (floors[i] ?? NaN)).toFixed(2)}×`).join(', ')} \`node -e 0\`).`,
      );
    const ratios = medians.map((m, i) => m / (floors[i] ?? NaN));
    rows.push({
      figure: `\`nightless status\` cold start against a local server, p50 per round (${ROUNDS} × ${RUNS} runs)`,
      target: '≤ 200 ms',
      measured: `${spread(medians)}`,
      met: Math.max(...medians) <= 200,
      baseline: `${spread(floors)} (\`node -e 0\`)`,
      ratio: `${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}×`,
    });
    const helpRatios = helps.map((m, i) => m / (floors[i] ?? NaN));
    rows.push({
      figure: `\`nightless --help\` cold start (every command registered), p50 per round (same rounds)`,
      target: '—',
      measured: spread(helps),
      met: null,
      baseline: `${spread(floors)} (\`node -e 0\`)`,
      ratio: `${Math.min(...helpRatios).toFixed(2)}–${Math.max(...helpRatios).toFixed(2)}×`,
    });
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

/** `npm start` until the demo's first passing build (the server's "build finished" line); ms. */
async function startOnce(): Promise<number> {
  const dataDir = await mkdtemp(join(tmpdir(), 'nightless-bench-start-'));
  const t0 = nowMs();
  const child = spawn('npm', ['start', '--', '--port', '0', '--data-dir', dataDir], {
    cwd: repoRoot,
    env: { ...process.env, NIGHTLESS_TOKEN: TOKEN },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  try {
    await waitForOutput(
      child,
      /"state":"passed"[^\n]*"msg":"build finished"/,
      60_000,
      'the demo build to pass',
    );
    return nowMs() - t0;
  } finally {
    // npm → sh → node: the whole process group.
    if (child.pid !== undefined) process.kill(-child.pid, 'SIGTERM');
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(15_000)]);
    // The server may still be writing while it shuts down: bounded retries.
    for (let i = 0; i < 20; i++) {
      const ok = await rm(dataDir, { recursive: true, force: true }).then(
        () => true,
        () => false,
      );
      if (ok) break;
      await sleep(500);
    }
  }
}

if (only.has('start')) {
  await run(process.execPath, [join(repoRoot, 'scripts', 'build-if-stale.mjs')]);
  const xs: number[] = [];
  const floors: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    floors.push(await timed('npm', ['--version']));
    xs.push(await startOnce());
    log(`npm start → demo passed: ${f0(xs[i] ?? NaN)} ms`);
  }
  rows.push({
    figure: `\`npm start\` on a built checkout → demo build passed (${STARTS} starts), p50 (spread)`,
    target: '≤ 3 s',
    measured: `${f0(p50(xs))} ms (${spread(xs)})`,
    met: p50(xs) <= 3000,
    baseline: `${f0(p50(floors))} ms (\`npm --version\`)`,
    ratio: `${(p50(xs) / p50(floors)).toFixed(1)}×`,
  });
  notes.push(
    '`npm start` = `node scripts/build-if-stale.mjs` (compiles only when `src/` or a build setting is newer than `dist/.build-stamp`) + `serve --demo`; the clock stops when the server logs the first build `passed` (its output watched, not polled).',
  );
}

const report = [
  `Latest run: ${new Date(started).toISOString()} — ${machine()}; load average (1/5/15 min) ${loadStart} at start, ${loadAverage()} at end; command: \`npx tsx bench/cli/run.mts ${process.argv.slice(2).join(' ')}\`.`,
  '',
  figureTable(rows),
  '',
  ...notes.map((n) => `- ${n}`),
].join('\n');
process.stdout.write(`${report}\n`);
if (!args.has('no-write'))
  log(`wrote ${writeResultsSection('cli', '## CLI and start-up (bench/cli)', report)}`);
