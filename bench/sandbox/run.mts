/**
 * Sandbox bench: what `isolation: sandbox` (bubblewrap) adds to a step, against `isolation: none`
 * in the same run. See bench/README.md.
 *
 *   npx tsx bench/sandbox/run.mts [--runs=100] [--no-write]
 *
 * Each round runs one build of a one-step job (`true`) through the real LocalExecutor twice,
 * sandboxed and not, in alternating order; the overhead of a round is the difference of the two.
 * The spread is reported over the rounds (p10 / p50 / p90), not the best round.
 *
 * Prints a markdown table and writes it into bench/RESULTS.md (section "Sandbox").
 */
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../src/artifacts/content-store.js';
import type { JobDef } from '../../src/core/pipeline.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { sandboxArgs } from '../../src/executor/sandbox.js';

const args = benchArgs();
const RUNS = Number(args.get('runs') ?? 100);
const BUDGET_MS = 120_000;
const TARGET_MS = 30;

const job = (isolation: 'sandbox' | 'none'): JobDef => ({
  name: 'bench',
  inputs: [],
  steps: [{ name: 'noop', run: 'true', env: {}, timeoutMs: null }],
  env: {},
  timeoutMs: null,
  noOutputTimeoutMs: null,
  outputs: {},
  coverage: null,
  publish: [],
  branches: null,
  paths: null,
  pathsIgnore: null,
  supersede: true,
  cancelRunning: false,
  concurrency: 1,
  quietPeriodMs: null,
  secrets: [],
  isolation,
});

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? NaN;
}
const f1 = (x: number): string => x.toFixed(1);
const spread = (xs: readonly number[]): string =>
  `${f1(pct(xs, 10))} / ${f1(pct(xs, 50))} / ${f1(pct(xs, 90))} ms`;

const dataDir = await mkdtemp(join(tmpdir(), 'nightless-bench-sandbox-'));
const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir) });
const never = new AbortController().signal;
const observer = {
  stepStarted: () => undefined,
  stepFinished: () => undefined,
  logAdvanced: () => undefined,
};
let id = 1;
async function once(isolation: 'sandbox' | 'none'): Promise<number> {
  const spec = { buildId: id++, job: job(isolation), inputs: [], secretValues: [], env: {} };
  const t0 = performance.now();
  const r = await ex.run(spec, observer, never);
  const ms = performance.now() - t0;
  if (r.state !== 'passed')
    throw new Error(`${isolation}: ${r.state} ${'reason' in r ? r.reason : ''}`);
  return ms;
}

/** The floor: spawning the shell alone vs. through bwrap with the executor's arguments. */
const ws = join(dataDir, 'workspaces', 'spawn');
await mkdir(ws, { recursive: true });
function spawnMs(cmd: string, argv: readonly string[]): Promise<number> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const c = spawn(cmd, argv, {
      stdio: 'ignore',
      cwd: ws,
      env: { PATH: process.env['PATH'] ?? '' },
    });
    c.once('error', reject);
    c.once('exit', (code) =>
      code === 0 ? resolve(performance.now() - t) : reject(new Error(`${cmd} exited ${code}`)),
    );
  });
}
const bwrapArgv = [
  ...sandboxArgs({ workspace: ws, hide: [dataDir], readOnly: [], network: false }),
  'bash',
  '-c',
  'true',
];

const startedAt = new Date().toISOString();
const loadBefore = loadAverage();
// Warm-up: page cache, bwrap binary, the workspace directory.
for (let i = 0; i < 5; i++) await Promise.all([once('none'), once('sandbox')].map((p) => p));
const none: number[] = [];
const sandbox: number[] = [];
const overhead: number[] = [];
const spawnOverhead: number[] = [];
const t0 = Date.now();
for (let i = 0; i < RUNS && Date.now() - t0 < BUDGET_MS; i++) {
  // Alternate which goes first so drift in machine load hits both alike.
  const [a, b] =
    i % 2 === 0
      ? [await once('none'), await once('sandbox')]
      : ([await once('sandbox'), await once('none')].reverse() as [number, number]);
  none.push(a);
  sandbox.push(b);
  overhead.push(b - a);
  const plain = await spawnMs('bash', ['-c', 'true']);
  spawnOverhead.push((await spawnMs('bwrap', bwrapArgv)) - plain);
}
await rm(dataDir, { recursive: true, force: true });

const p50Overhead = pct(overhead, 50);
const rows: FigureRow[] = [
  {
    figure:
      'sandbox start overhead per step (sandboxed build − unsandboxed build, per round), p10 / p50 / p90',
    target: `≤ ${TARGET_MS} ms (p50)`,
    measured: spread(overhead),
    met: p50Overhead <= TARGET_MS,
    baseline: '0 ms (isolation: none)',
    ratio: '—',
  },
  {
    figure: 'floor: `bwrap … bash -c true` − `bash -c true`, spawned directly, p10 / p50 / p90',
    target: `≤ ${TARGET_MS} ms (p50)`,
    measured: spread(spawnOverhead),
    met: pct(spawnOverhead, 50) <= TARGET_MS,
    baseline: 'bash -c true',
    ratio: '—',
  },
  {
    figure: 'one-step build (`true`), isolation: sandbox, p10 / p50 / p90',
    target: '—',
    measured: spread(sandbox),
    met: null,
    baseline: `${spread(none)} (isolation: none)`,
    ratio: `${(pct(sandbox, 50) / pct(none, 50)).toFixed(2)}× (p50)`,
  },
];
const report = [
  `Latest run: ${startedAt} — ${machine()}; load average (1/5/15 min) ${loadBefore} at start, ${loadAverage()} at end; ${none.length} rounds; command: \`npx tsx bench/sandbox/run.mts --runs=${RUNS}\`.`,
  '',
  figureTable(rows),
  '',
  `- A build here is the whole LocalExecutor run: log open, workspace create/remove, one step. The sandbox adds one \`bwrap\` (namespaces, mounts: read-only /, tmpfs /tmp and data dir, workspace bind, fresh /proc and /dev) per step; min / max overhead ${f1(Math.min(...overhead))} / ${f1(Math.max(...overhead))} ms.`,
].join('\n');
console.log(report);
if (!args.has('no-write')) writeResultsSection('sandbox', '## Sandbox (bench/sandbox)', report);
