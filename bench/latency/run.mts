/**
 * Latency bench: the built `nightless serve` driven over HTTP as a forge drives it. See
 * bench/README.md.
 *
 *   npx tsx bench/latency/run.mts [--runs=30] [--budget-s=300] [--only=webhook,downstream,poll]
 *                                 [--root=DIR] [--serve-args=ARGS] [--node-args=ARGS]
 *                                 [--no-write] [--keep]
 *
 * webhook:    a commit pushed to a small bare repository, then a signed `POST /hooks/generic`
 *             → the first instruction of the job's first step (it writes `date +%s%N`), the new
 *             commit's tree in the workspace; interleaved run by run with the floor (a shell
 *             script: fetch into a mirror + `checkout -f` into an existing tree + spawn).
 * downstream: the upstream build finished with a new output (its `finishedAt`) → the first
 *             instruction of the downstream job's step; against spawning `bash -c date`.
 * poll:       the version found by a fallback poll (`POST /api/sources/app/poll`) stored
 *             (the event's `receivedAt`) → the first instruction; against the floor.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logPath } from '../../src/executor/log-reader.js';
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import {
  api,
  nowMs,
  pipelineYaml,
  postGeneric,
  prepareFloor,
  readMark,
  Repo,
  run,
  startServer,
  waitFor,
  waitForMark,
} from './world.mjs';

const args = benchArgs();
const RUNS = Number(args.get('runs') ?? 30);
const BUDGET_S = Number(args.get('budget-s') ?? 300);
const only = new Set((args.get('only') ?? 'webhook,downstream,poll').split(','));
/** `--root=DIR`: serve from another built checkout (an older commit, for before/after). */
const root = args.get('root');
/** `--serve-args="--no-git-helper"`: extra `serve` flags (space-separated), for before/after. */
const serveArgs = (args.get('serve-args') ?? '').split(' ').filter((a) => a !== '');
/** `--node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"`: flags for the server's node, to profile it. */
const nodeArgs = (args.get('node-args') ?? '').split(' ').filter((a) => a !== '');
const WARMUP = 3;
const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

interface BuildBody {
  id: number;
  job: string;
  state: string;
  queuedAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  inputs: { source: string; version: string; eventId: number | null }[];
}
interface EventBody {
  event: { receivedAt: number; processedAt: number | null };
}

const dir = await mkdtemp(join(tmpdir(), 'nightless-bench-latency-'));
const marks = join(dir, 'marks');
const dataDir = join(dir, 'data');
await mkdir(marks, { recursive: true });
const app = await Repo.create(dir, 'app');
const lib = await Repo.create(dir, 'lib');
const config = join(dir, 'nightless.yaml');
await writeFile(config, pipelineYaml(app, lib, marks));
const floorScript = await prepareFloor(dir, app.origin);
const loadStart = loadAverage();
const started = Date.now();
const server = await startServer(dir, config, dataDir, root, serveArgs, nodeArgs);
log(`server at ${server.url}; data in ${dir}`);

/** The finished build of `job` whose input is `version`. */
async function finishedBuild(job: string, version: string): Promise<BuildBody> {
  return waitFor(
    async () => {
      const { builds } = await api<{ builds: BuildBody[] }>(
        server.url,
        `/api/builds?job=${job}&limit=20`,
      );
      const b = builds.find((x) => x.inputs.some((i) => i.version === version));
      return b && b.finishedAt !== null ? b : null;
    },
    30_000,
    `a finished ${job} build of ${version}`,
  );
}

/** Epoch ms of the first log line of build `id` whose text starts with `prefix`. */
async function logTime(id: number, prefix: string): Promise<number> {
  const text = await readFile(logPath(dataDir, id), 'utf8');
  for (const line of text.split('\n')) {
    const m = /^(\d+) s (.*)$/.exec(line);
    if (m?.[2]?.startsWith(prefix)) return Number(m[1]);
  }
  return Number.NaN;
}

/** Stage name → ms since the clock started, one array entry per measured run. */
type Stages = Map<string, number[]>;
const add = (s: Stages, k: string, v: number): void => void s.set(k, [...(s.get(k) ?? []), v]);

async function floorOnce(sha: string): Promise<number> {
  const mark = join(marks, `floor-${sha}`);
  const t0 = nowMs();
  await run('bash', [floorScript, sha, mark]);
  return ((await readMark(mark)) ?? Number.NaN) - t0;
}
async function spawnOnce(): Promise<number> {
  const mark = join(marks, `spawn-${nowMs()}`);
  const t0 = nowMs();
  await run('bash', ['-c', 'date +%s%N > "$0"', mark]);
  return ((await readMark(mark)) ?? Number.NaN) - t0;
}

/** One webhook run: push (not timed), POST, wait for the mark; the stages since the POST. */
async function webhookOnce(s: Stages): Promise<void> {
  const sha = await app.push();
  const t0 = nowMs();
  const eventId = await postGeneric(server.url, 'app', sha);
  const answered = nowMs();
  const mark = await waitForMark(join(marks, sha), 30_000);
  const b = await finishedBuild('first-step', sha);
  const { event } = await api<EventBody>(server.url, `/api/events/${eventId}`);
  add(s, 'POST answered (202)', answered - t0);
  add(s, 'accepted (signature checked, event stamped)', event.receivedAt - t0);
  add(s, 'decided (build queued)', b.queuedAt - t0);
  add(s, 'claimed', (b.startedAt ?? Number.NaN) - t0);
  add(s, 'tree ready', (await logTime(b.id, '<== checked out')) - t0);
  add(s, 'step started', (await logTime(b.id, '==> step')) - t0);
  add(s, 'first instruction', mark - t0);
}

async function downstreamOnce(s: Stages): Promise<void> {
  const sha = await lib.push();
  await postGeneric(server.url, 'lib', sha);
  const mark = await waitForMark(join(marks, `down-${sha}`), 30_000);
  const up = await finishedBuild('up', sha);
  const t0 = up.finishedAt ?? Number.NaN;
  const { builds } = await api<{ builds: BuildBody[] }>(server.url, `/api/builds?job=down&limit=5`);
  const down = builds.find((b) => b.startedAt !== null && b.queuedAt >= t0 - 1);
  if (down) {
    add(s, 'decided (build queued)', down.queuedAt - t0);
    add(s, 'claimed', (down.startedAt ?? Number.NaN) - t0);
    add(s, 'step started', (await logTime(down.id, '==> step')) - t0);
  }
  add(s, 'first instruction', mark - t0);
  await finishedBuild('down', down?.inputs[0]?.version ?? '');
}

async function pollOnce(s: Stages): Promise<void> {
  const sha = await app.push();
  const t0 = nowMs();
  await api(server.url, '/api/sources/app/poll', 'POST');
  const mark = await waitForMark(join(marks, sha), 30_000);
  const b = await finishedBuild('first-step', sha);
  const eventId = b.inputs[0]?.eventId ?? 0;
  const { event } = await api<EventBody>(server.url, `/api/events/${eventId}`);
  const stored = event.receivedAt;
  add(s, 'poll call → event stamped', stored - t0);
  add(s, 'decided (build queued)', b.queuedAt - stored);
  add(s, 'claimed', (b.startedAt ?? Number.NaN) - stored);
  add(s, 'tree ready', (await logTime(b.id, '<== checked out')) - stored);
  add(s, 'step started', (await logTime(b.id, '==> step')) - stored);
  add(s, 'first instruction', mark - stored);
}

function pct(xs: readonly number[], p: number): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] ?? Number.NaN;
}
const f1 = (x: number): string => x.toFixed(1);

const rows: FigureRow[] = [];
const tables: string[] = [];
const notes: string[] = [];
const deadline = started + BUDGET_S * 1000;

/** Runs `measure` (and `baseline`, alternating which goes first) WARMUP + RUNS times. */
async function scenario(
  name: string,
  measure: (s: Stages) => Promise<void>,
  baseline: () => Promise<number>,
): Promise<{ stages: Stages; base: number[]; runs: number }> {
  const stages: Stages = new Map();
  const base: number[] = [];
  let runs = 0;
  for (let i = 0; i < WARMUP + RUNS && Date.now() < deadline; i++) {
    const target: Stages = i < WARMUP ? new Map<string, number[]>() : stages;
    const b = i % 2 === 0 ? await baseline() : null;
    await measure(target);
    const b2 = b ?? (await baseline());
    if (i >= WARMUP) {
      base.push(b2);
      runs++;
    }
  }
  log(`${name}: ${runs} runs`);
  return { stages, base, runs };
}

function stageTable(title: string, stages: Stages): string {
  return [
    `| ${title} | p50 | p99 |`,
    '|---|---:|---:|',
    ...[...stages].map(([k, xs]) => `| ${k} | ${f1(pct(xs, 50))} ms | ${f1(pct(xs, 99))} ms |`),
  ].join('\n');
}

try {
  if (only.has('webhook')) {
    const r = await scenario('webhook', webhookOnce, async () => floorOnce(await app.push()));
    const x = r.stages.get('first instruction') ?? [];
    const m50 = pct(x, 50);
    const b50 = pct(r.base, 50);
    rows.push(
      {
        figure: `signed \`POST /hooks/generic\` → first instruction, new commit fetched + checked out (${r.runs} runs), p50`,
        target: '≤ 40 ms and ≤ 1.5× floor',
        measured: `${f1(m50)} ms`,
        met: m50 <= 40 && m50 <= 1.5 * b50,
        baseline: `${f1(b50)} ms (shell: fetch into mirror + checkout -f + spawn)`,
        ratio: `${(m50 / b50).toFixed(2)}×`,
      },
      {
        figure: '… same, p99',
        target: '—',
        measured: `${f1(pct(x, 99))} ms`,
        met: null,
        baseline: `${f1(pct(r.base, 99))} ms`,
        ratio: `${(pct(x, 99) / pct(r.base, 99)).toFixed(2)}×`,
      },
    );
    tables.push(stageTable('webhook: stage ends, ms since the POST was sent', r.stages));
  }
  if (only.has('downstream')) {
    const r = await scenario('downstream', downstreamOnce, spawnOnce);
    const x = r.stages.get('first instruction') ?? [];
    const m50 = pct(x, 50);
    const b50 = pct(r.base, 50);
    rows.push({
      figure: `upstream build finished with a new output → downstream first instruction (${r.runs} runs), p50 / p99`,
      target: '≤ 30 ms',
      measured: `${f1(m50)} / ${f1(pct(x, 99))} ms`,
      met: m50 <= 30,
      baseline: `${f1(b50)} ms (spawn \`bash -c date\`)`,
      ratio: `${(m50 / b50).toFixed(2)}×`,
    });
    tables.push(stageTable('downstream: stage ends, ms since upstream finishedAt', r.stages));
  }
  if (only.has('poll')) {
    const r = await scenario('poll', pollOnce, async () => floorOnce(await app.push()));
    const x = r.stages.get('first instruction') ?? [];
    const m50 = pct(x, 50);
    const b50 = pct(r.base, 50);
    rows.push({
      figure: `fallback poll finds a version: event stored → first instruction (${r.runs} runs), p50 / p99`,
      target: '≤ 40 ms',
      measured: `${f1(m50)} / ${f1(pct(x, 99))} ms`,
      met: m50 <= 40,
      baseline: `${f1(b50)} ms (floor script, from its start)`,
      ratio: `${(m50 / b50).toFixed(2)}×`,
    });
    tables.push(stageTable('poll: stage ends, ms since the event was stored', r.stages));
  }
} finally {
  await server.stop();
  if (!args.has('keep')) await rm(dir, { recursive: true, force: true });
}

notes.push(
  `Server: \`node bin/nightless.js serve --slots 2\` (built \`dist/\`), SQLite, ~50-file repositories; the clock starts client-side; server stages come from the event (\`receivedAt\`), the build (\`queuedAt\`, \`startedAt\`) and the build log's system lines (\`<== checked out\`, \`==> step\`); the first instruction is the step's own \`date +%s%N\`, which the client waits for through inotify (no polling). ${WARMUP} warm-up runs per path are not counted. Floor runs alternate before/after the measured run.`,
);
const report = [
  `Latest run: ${new Date(started).toISOString()} — ${machine()}; load average (1/5/15 min) ${loadStart} at start, ${loadAverage()} at end; total ${((Date.now() - started) / 1000).toFixed(1)} s; command: \`npx tsx bench/latency/run.mts ${process.argv.slice(2).join(' ')}\`.`,
  '',
  figureTable(rows),
  '',
  ...tables.flatMap((t) => [t, '']),
  ...notes.map((n) => `- ${n}`),
].join('\n');
process.stdout.write(`${report}\n`);
if (!args.has('no-write'))
  log(`wrote ${writeResultsSection('latency', '## Latency (bench/latency)', report)}`);
