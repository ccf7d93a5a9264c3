/**
 * Executor bench: the real engine (SQLite store, memory bus, LocalExecutor, 1 slot) on a local
 * bare git repository. See bench/README.md.
 *
 *   npx tsx bench/executor/run.mts [--only=a,b,c] [--runs=50] [--log-mb=500] [--builds=50]
 *                                  [--blob-mb=20] [--no-write] [--keep]
 *
 * (a) event → first step started, for a ~50-file repository with a warm mirror, against the floor
 *     (checkout from the same mirror + spawning bash directly), interleaved run by run;
 * (b) log capture throughput and RSS growth for a step printing 500 MB, against bash > file;
 * (c) artifact dedupe: 50 forced builds producing the same 20 MiB file, against `cp`.
 *
 * Prints a markdown table and writes it into bench/RESULTS.md (section "Executor").
 */
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { parsePipeline } from '../../src/config/index.js';
import { runArtifactGc } from '../../src/maintenance/artifact-gc.js';
import { Engine } from '../../src/app/engine.js';
import { logPath } from '../../src/executor/log-reader.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const args = benchArgs();
const only = new Set((args.get('only') ?? 'a,b,c').split(','));
const RUNS = Number(args.get('runs') ?? 50);
/** (a) stops after this many seconds even if fewer than RUNS runs were done (overloaded machine). */
const BUDGET_S = Number(args.get('budget-s') ?? 150);
const LOG_BYTES = Number(args.get('log-mb') ?? 500) * 1_000_000;
const BUILDS = Number(args.get('builds') ?? 50);
const BLOB_BYTES = Number(args.get('blob-mb') ?? 20) * 2 ** 20;
const FILES = 50;
/** 59 characters + newline: `yes` repeats it. */
const LINE = 'some 60-byte line of build output, repeated by yes(1) ......';
const MiB = 2 ** 20;

const logger = pino({ level: 'silent' });
const log = (msg: string): void => void process.stderr.write(`[bench] ${msg}\n`);

// ---- small helpers ---------------------------------------------------------------------------

/** Epoch milliseconds with sub-millisecond resolution (monotonic clock anchored at start). */
const nowMs = (): number => performance.timeOrigin + performance.now();

function run(
  cmd: string,
  argv: readonly string[],
  opts: { cwd?: string; env?: Record<string, string> } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd,
      env: { ...process.env, ...GIT_ID, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(out.trim())
        : reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err.trim()}`)),
    );
  });
}

const GIT_ID = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

/** `date +%s%N` output → epoch ms. */
async function readMark(path: string): Promise<number> {
  const ns = BigInt((await readFile(path, 'utf8')).trim());
  return Number(ns / 1000n) / 1000;
}

function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const i = Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1));
  return s[i] ?? Number.NaN;
}
const p50 = (xs: readonly number[]): number => percentile(xs, 50);
const p99 = (xs: readonly number[]): number => percentile(xs, 99);
const f1 = (x: number): string => x.toFixed(1);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const mb = (bytes: number): string => `${(bytes / MiB).toFixed(1)} MiB`;

const rows: FigureRow[] = [];
const notes: string[] = [];
const extraTables: string[] = [];
/** (a) runs done per variant: [warm webhook and forced trigger, webhook with fetch]. */
let runsDone: [number, number] = [0, 0];

// ---- world: repository, pipeline, engine -----------------------------------------------------

const dir = await mkdtemp(join(tmpdir(), 'nightless-bench-exec-'));
const origin = join(dir, 'origin.git');
const work = join(dir, 'work');
const marks = join(dir, 'marks');
const ctrl = join(dir, 'ctrl');
const floorDir = join(dir, 'floor');
const dataDir = join(dir, 'data');
for (const d of [work, marks, ctrl, floorDir, dataDir]) await mkdir(d, { recursive: true });

const git = (cwd: string, ...a: string[]): Promise<string> => run('git', a, { cwd });
await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', origin]);
await git(work, 'init', '--quiet', '--initial-branch=main');
for (let i = 0; i < FILES; i++) {
  const sub = join(work, 'src', `m${i % 5}`);
  await mkdir(sub, { recursive: true });
  await writeFile(join(sub, `file-${i}.ts`), `export const v${i} = ${i};\n`.repeat(40));
}
await writeFile(join(work, 'CHANGES'), 'initial\n');
await git(work, 'add', '-A');
await git(work, 'commit', '--quiet', '-m', 'initial');
await git(work, 'remote', 'add', 'origin', origin);
await git(work, 'push', '--quiet', 'origin', 'main');

let commits = 0;
/** `n` new commits (each a child of the previous) pushed to the bare repository at once (not timed). */
async function newCommits(n: number): Promise<string[]> {
  for (let i = 0; i < n; i++) {
    commits++;
    await writeFile(join(work, 'CHANGES'), `change ${commits}\n`);
    await git(work, 'commit', '--quiet', '-a', '-m', `change ${commits}`);
  }
  await git(work, 'push', '--quiet', 'origin', 'main');
  const revs = Array.from({ length: n }, (_, i) => `HEAD~${n - 1 - i}`);
  return (await git(work, 'rev-parse', ...revs)).split('\n');
}

const q = JSON.stringify;
const pipelineText = `
sources:
  app:
    git: ${q(origin)}
    branch: main
    fallback_poll: off
jobs:
  first-step:
    inputs: [app]
    env: { MARKS: ${q(marks)} }
    steps:
      - date +%s%N > "$MARKS/$NIGHTLESS_BUILD_ID"
  logs:
    env: { CTRL: ${q(ctrl)}, LINE: ${q(LINE)}, BYTES: "${LOG_BYTES}" }
    steps:
      - run: test -e "$CTRL/armed" || exit 0; head -c "$BYTES" < <(yes "$LINE")
  dedupe:
    env: { CTRL: ${q(ctrl)} }
    steps:
      - run: test -e "$CTRL/armed" || exit 0; cp "$CTRL/blob.bin" out.bin
    outputs:
      bin: out.bin
`;
const pipeline = parsePipeline(pipelineText, join(dir, 'nightless.yaml'), { env: {} });
const store = await openSqliteStore({ path: join(dataDir, 'nightless.db') });
const artifacts = new ContentStore(dataDir);
// The default log cap (100 MiB) would stop capturing after a fifth of (b); measure real capture.
const executor = new LocalExecutor({ dataDir, artifacts, logMaxBytes: 2 ** 30 });

// Where the time goes: timestamps of the stages of the current run (epoch ms).
const stage: Record<string, number> = {};
function wrap<T extends object, K extends keyof T>(obj: T, key: K, name: string): void {
  const orig = obj[key] as unknown as (...a: unknown[]) => Promise<unknown>;
  (obj as Record<K, unknown>)[key] = async (...a: unknown[]) => {
    const r = await orig.apply(obj, a);
    if (r !== null) stage[name] = nowMs();
    return r;
  };
}
wrap(store.scheduler, 'batchDecisions', 'decided');
wrap(store.queue, 'claimNextBuild', 'claimed');
wrap(executor.workspaces, 'create', 'workspace');
wrap(executor.mirrors, 'ensureCommit', 'commit found');
// `checked out` is read from the build log (`<== checked out`): a warm workspace's checkout is
// no method call to wrap.

const engine = await Engine.start({
  store,
  bus: new MemoryBus(),
  executor,
  pipeline,
  logger,
  slots: 1,
});
await engine.settled(); // the new job definitions' first builds (guarded: they do nothing)
await writeFile(join(ctrl, 'armed'), '');
const url = origin;
const mirror = executor.mirrors.mirrorDir(url);

async function newestBuildId(job: string): Promise<number> {
  const [b] = await store.read.listBuilds({ job, limit: 1 });
  if (!b) throw new Error(`no build of ${job}`);
  if (b.state !== 'passed') throw new Error(`build ${b.id} of ${job}: ${b.state} ${b.reason}`);
  return b.id;
}

/** Epoch ms of the `<== checked out` line of build `id`'s log (ms resolution). */
async function checkedOutAt(id: number): Promise<number> {
  const text = await readFile(logPath(dataDir, id), 'utf8');
  const m = /^(\d+) s <== checked out/m.exec(text);
  return m ? Number(m[1]) : Number.NaN;
}

let deliveries = 0;
/** Webhook event for `sha`; returns the latency from `ingest` returning to the step's `date`. */
async function viaWebhook(
  sha: string,
): Promise<{ latency: number; stages: Record<string, number> }> {
  for (const k of Object.keys(stage)) delete stage[k];
  await engine.ingest({
    kind: 'source',
    source: 'app',
    version: sha,
    ref: 'main',
    origin: 'webhook',
    deliveryId: `bench-${++deliveries}`,
    changedPaths: null,
    producedBy: null,
    receivedAt: Date.now(),
  });
  const t0 = nowMs();
  await engine.settled();
  const id = await newestBuildId('first-step');
  const mark = await readMark(join(marks, String(id)));
  stage['checked out'] = await checkedOutAt(id);
  const stages = Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, v - t0]));
  return { latency: mark - t0, stages: { ...stages, 'step ran': mark - t0 } };
}

/** Forced trigger; the clock starts when `trigger` is called (it returns after scheduling). */
async function viaTrigger(): Promise<{ latency: number; stages: Record<string, number> }> {
  for (const k of Object.keys(stage)) delete stage[k];
  const t0 = nowMs();
  const { build } = await engine.trigger('first-step', { force: true, by: 'bench' });
  if (build === null) throw new Error('trigger queued nothing');
  stage['trigger returned'] = nowMs();
  await engine.settled();
  const mark = await readMark(join(marks, String(build.id)));
  stage['checked out'] = await checkedOutAt(build.id);
  const stages = Object.fromEntries(Object.entries(stage).map(([k, v]) => [k, v - t0]));
  return { latency: mark - t0, stages: { ...stages, 'step ran': mark - t0 } };
}

let floorRuns = 0;
/** The floor: checkout of `sha` from `source` into a fresh directory, then bash writes the time. */
async function floorClone(source: string, sha: string, fetchFirst: boolean): Promise<number> {
  const dest = join(floorDir, String(++floorRuns));
  const markFile = join(floorDir, `${floorRuns}.mark`);
  const t0 = nowMs();
  if (fetchFirst) await run('git', ['--git-dir', source, 'fetch', '--prune', '--quiet', 'origin']);
  await run('git', ['clone', '--quiet', '--shared', '--no-checkout', source, dest]);
  await run('git', [
    '-C',
    dest,
    '-c',
    'advice.detachedHead=false',
    'checkout',
    '--quiet',
    '--detach',
    sha,
  ]);
  await run('bash', ['-c', 'date +%s%N > "$1"', 'bash', markFile]);
  const latency = (await readMark(markFile)) - t0;
  await rm(dest, { recursive: true, force: true });
  return latency;
}

// ---- (a) event → first step started ------------------------------------------------------------

async function scenarioA(): Promise<void> {
  log(
    `(a) ${RUNS} runs × (webhook warm, forced trigger; every 2nd: webhook + fetch) with floors; load ${loadAverage()}`,
  );
  // Warm-up, not measured: clones the mirror, first spawns, JIT.
  await viaWebhook((await newCommits(1))[0] ?? '');
  const floorMirror = join(dir, 'floor-mirror.git');
  await run('git', ['clone', '--quiet', '--mirror', origin, floorMirror]);
  await floorClone(mirror, await git(work, 'rev-parse', 'HEAD'), false);

  const fetchRuns: number[] = [];
  const fetchFloor: number[] = [];
  const warmRuns: number[] = [];
  const warmFloor: number[] = [];
  const trigRuns: number[] = [];
  const stageRuns: Record<string, number>[] = [];
  const trigStages: Record<string, number>[] = [];
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) {
    // Every other iteration, two new commits pushed together: the first is not in the mirror
    // (nightless fetches, and so does its floor), that fetch brings the second too, whose event
    // then finds a warm mirror. Otherwise one commit, fetched into the mirror untimed.
    const withFetch = i % 2 === 0;
    const [sha1 = '', sha2 = ''] = await newCommits(withFetch ? 2 : 1).then((s) =>
      withFetch ? s : ['', ...s],
    );
    if (withFetch) {
      // 1. A new commit the mirror has not seen: nightless fetches, and so does its floor.
      fetchRuns.push((await viaWebhook(sha1)).latency);
      fetchFloor.push(await floorClone(floorMirror, sha1, true));
    } else {
      await run('git', ['--git-dir', mirror, 'fetch', '--prune', '--quiet', 'origin']);
    }
    // 2. A new commit already in the mirror (warm): checkout + spawn only.
    const warm = await viaWebhook(sha2);
    warmRuns.push(warm.latency);
    stageRuns.push(warm.stages);
    warmFloor.push(await floorClone(mirror, sha2, false));
    // 3. A forced rebuild of that commit.
    const trig = await viaTrigger();
    trigRuns.push(trig.latency);
    trigStages.push(trig.stages);
    const elapsed = (performance.now() - started) / 1000;
    if ((i + 1) % 10 === 0) log(`(a) ${i + 1}/${RUNS} in ${f1(elapsed)} s; load ${loadAverage()}`);
    if (elapsed > BUDGET_S && i + 1 < RUNS) {
      notes.push(
        `(a) **stopped after ${i + 1} of ${RUNS} runs**: the ${BUDGET_S} s budget was used up (load average ${loadAverage()}); rerun on a quieter machine for the full count.`,
      );
      break;
    }
  }
  await buildTail();
  runsDone = [warmRuns.length, fetchRuns.length];
  const floor = p50(warmFloor);
  rows.push(
    {
      figure:
        '(a) in-process engine, no HTTP: inbox write (`engine.ingest()` returned) → first instruction, new commit already in the mirror, warm workspace, p50',
      target: '≤ 1.5× floor',
      measured: `${f1(p50(warmRuns))} ms`,
      met: p50(warmRuns) <= 1.5 * floor,
      baseline: `${f1(floor)} ms (clone --shared + checkout + bash)`,
      ratio: ratio(p50(warmRuns), floor),
    },
    {
      figure: '(a) same, p99',
      target: '—',
      measured: `${f1(p99(warmRuns))} ms`,
      met: null,
      baseline: `${f1(p99(warmFloor))} ms`,
      ratio: ratio(p99(warmRuns), p99(warmFloor)),
    },
    {
      figure: `(a) in-process engine: inbox write → first instruction, commit not yet fetched (${fetchRuns.length} runs), p50`,
      target: '≤ 1.5× floor',
      measured: `${f1(p50(fetchRuns))} ms`,
      met: p50(fetchRuns) <= 1.5 * p50(fetchFloor),
      baseline: `${f1(p50(fetchFloor))} ms (fetch + clone --shared + checkout + bash)`,
      ratio: ratio(p50(fetchRuns), p50(fetchFloor)),
    },
    {
      figure: '(a) same, p99',
      target: '—',
      measured: `${f1(p99(fetchRuns))} ms`,
      met: null,
      baseline: `${f1(p99(fetchFloor))} ms`,
      ratio: ratio(p99(fetchRuns), p99(fetchFloor)),
    },
    {
      figure: '(a) `trigger --force` → first step (from the call), p50 / p99',
      target: '≤ 1.5× floor',
      measured: `${f1(p50(trigRuns))} / ${f1(p99(trigRuns))} ms`,
      met: p50(trigRuns) <= 1.5 * floor,
      baseline: `${f1(floor)} / ${f1(p99(warmFloor))} ms`,
      ratio: ratio(p50(trigRuns), floor),
    },
  );
  // Median time from the start of the clock to the end of each stage.
  const names = ['decided', 'claimed', 'workspace', 'commit found', 'checked out', 'step ran'];
  const own = (runs: Record<string, number>[], n: string): number =>
    p50(
      runs.map((s) => {
        const i = names.indexOf(n);
        const before = i === 0 ? 0 : (s[names[i - 1] ?? ''] ?? Number.NaN);
        return (s[n] ?? Number.NaN) - before;
      }),
    );
  const at = (runs: Record<string, number>[], n: string): number =>
    p50(runs.map((s) => s[n] ?? Number.NaN));
  const lines = [
    '| stage ends | webhook, warm: p50 since `ingest` returned | p50 of the stage | forced trigger: p50 since the call | p50 of the stage |',
    '|---|---:|---:|---:|---:|',
  ];
  for (const n of names)
    lines.push(
      `| ${n} | ${f1(at(stageRuns, n))} ms | ${f1(own(stageRuns, n))} ms | ${f1(at(trigStages, n))} ms | ${f1(own(trigStages, n))} ms |`,
    );
  lines.push(
    `| (\`trigger\` returned) | — | — | ${f1(at(trigStages, 'trigger returned'))} ms | — |`,
  );
  extraTables.push(
    `Where the time goes in (a) (${stageRuns.length} runs each; stages timed by wrapping store and executor methods):\n\n${lines.join('\n')}`,
  );
}

/** After the first step: how long a `first-step` build takes from its step's exit to finished. */
async function buildTail(): Promise<void> {
  const builds = await store.read.listBuilds({ job: 'first-step', state: 'passed', limit: 500 });
  const tails: number[] = [];
  const totals: number[] = [];
  for (const b of builds) {
    if (b.startedAt === null || b.finishedAt === null) continue;
    totals.push(b.finishedAt - b.startedAt);
    const text = await readFile(logPath(dataDir, b.id), 'latin1').catch(() => '');
    const exit = [...text.matchAll(/^(\d+) s <== exit/gm)].pop()?.[1];
    if (exit !== undefined) tails.push(b.finishedAt - Number(exit));
  }
  notes.push(
    `(a) a whole \`first-step\` build (claimed → finished, ${totals.length} builds): p50 ${f1(p50(totals))} ms; of which after the step's exit (process-tree check via /proc, log close, workspace removal, result committed): p50 ${f1(p50(tails))} ms, p99 ${f1(p99(tails))} ms.`,
  );
}

// ---- (b) log throughput ----------------------------------------------------------------------

async function scenarioB(): Promise<void> {
  log(`(b) a step printing ${LOG_BYTES / 1e6} MB; load ${loadAverage()}`);
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 50);
  const cpu0 = process.cpuUsage();
  const t0 = nowMs();
  const { build } = await engine.trigger('logs', { force: true, by: 'bench' });
  if (build === null) throw new Error('trigger queued nothing');
  await engine.settled();
  const wall = nowMs() - t0;
  const cpu = process.cpuUsage(cpu0);
  const cpuPer100 = (cpu.user + cpu.system) / 1000 / (LOG_BYTES / 1e8);
  clearInterval(sampler);
  const detail = await store.read.getBuild(build.id);
  if (detail?.state !== 'passed') throw new Error(`logs build: ${detail?.state} ${detail?.reason}`);
  const file = logPath(dataDir, build.id);
  const { first, last } = await stepTimes(file);
  const stepMs = last - first;
  const logSize = (await stat(file)).size;
  await rm(file, { force: true });

  const out = join(dir, 'baseline.out');
  const b0 = nowMs();
  await run('bash', [
    '-c',
    'head -c "$2" < <(yes "$1") > "$3"',
    'bash',
    LINE,
    String(LOG_BYTES),
    out,
  ]);
  const baseMs = nowMs() - b0;
  const baseSize = (await stat(out)).size;
  await rm(out, { force: true });

  const rate = LOG_BYTES / 1e6 / (stepMs / 1000);
  const baseRate = baseSize / 1e6 / (baseMs / 1000);
  rows.push(
    {
      figure: `(b) log capture, step printing ${LOG_BYTES / 1e6} MB (${LINE.length + 1}-byte lines)`,
      target: '> 100 MB/s',
      measured: `${f1(rate)} MB/s`,
      met: rate > 100,
      baseline: `${f1(baseRate)} MB/s (bash: head < <(yes) > file)`,
      ratio: ratio(baseRate, rate) + ' slower',
    },
    {
      figure: '(b) CPU time of the engine process per 100 MB captured (user + sys)',
      target: '—',
      measured: `${cpuPer100.toFixed(0)} ms`,
      met: null,
      baseline: '—',
      ratio: `ceiling ${f1(100 / (cpuPer100 / 1000))} MB/s on one idle core`,
    },
    {
      figure: '(b) peak RSS growth of the engine process during (b)',
      target: '< 64 MiB',
      measured: mb(peak - base),
      met: peak - base < 64 * MiB,
      baseline: `${mb(base)} RSS before`,
      ratio: '—',
    },
  );
  notes.push(
    `(b) step time from the log's \`==> step\` / \`<== exit\` lines: ${f1(stepMs / 1000)} s; whole build ${f1(wall / 1000)} s; log file ${mb(logSize)} (timestamp + stream prefix per line). The bench raises \`logMaxBytes\` to 1 GiB (default cap 100 MiB).`,
  );
}

/** Epoch ms of the log's first `==> step` line and its `<== exit` line. */
async function stepTimes(file: string): Promise<{ first: number; last: number }> {
  const fh = await open(file, 'r');
  try {
    const size = (await fh.stat()).size;
    const head = Buffer.alloc(Math.min(4096, size));
    await fh.read(head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(4096, size));
    await fh.read(tail, 0, tail.length, size - tail.length);
    const start = /^(\d+) s ==> step/m.exec(head.toString('latin1'));
    const end = [...tail.toString('latin1').matchAll(/^(\d+) s <== exit/gm)].pop();
    if (!start?.[1] || !end?.[1]) throw new Error('step lines not found in the log');
    return { first: Number(start[1]), last: Number(end[1]) };
  } finally {
    await fh.close();
  }
}

// ---- (c) artifact dedupe ---------------------------------------------------------------------

async function scenarioC(): Promise<void> {
  log(`(c) ${BUILDS} forced builds producing the same ${mb(BLOB_BYTES)}; load ${loadAverage()}`);
  const blob = join(ctrl, 'blob.bin');
  await new Promise<void>((resolve, reject) => {
    const ws = createWriteStream(blob);
    ws.once('error', reject);
    for (let left = BLOB_BYTES; left > 0; left -= MiB) ws.write(randomBytes(Math.min(MiB, left)));
    ws.end(() => resolve());
  });
  const before = await artifacts.totalBytes();
  const times: number[] = [];
  for (let i = 0; i < BUILDS; i++) {
    const t0 = nowMs();
    const { build } = await engine.trigger('dedupe', { force: true, by: 'bench' });
    if (build === null) throw new Error('trigger queued nothing');
    await engine.settled();
    times.push(nowMs() - t0);
    const b = await store.read.getBuild(build.id);
    if (b?.state !== 'passed') throw new Error(`dedupe build: ${b?.state} ${b?.reason}`);
  }
  const added = (await artifacts.totalBytes()) - before;
  const cps: number[] = [];
  for (let i = 0; i < BUILDS; i++) {
    const dest = join(dir, `cp-${i}.bin`);
    const t0 = nowMs();
    await run('cp', [blob, dest]);
    cps.push(nowMs() - t0);
    await rm(dest, { force: true });
  }
  rows.push(
    {
      figure: `(c) store growth after ${BUILDS} builds of the same ${mb(BLOB_BYTES)} output`,
      target: `${mb(BLOB_BYTES)} (not ${mb(BLOB_BYTES * BUILDS)})`,
      measured: mb(added),
      met: added === BLOB_BYTES,
      baseline: `${mb(BLOB_BYTES * BUILDS)} without dedupe`,
      ratio: `${(added / (BLOB_BYTES * BUILDS)).toFixed(3)}×`,
    },
    {
      figure: '(c) time per forced build (trigger → finished), p50 / p99',
      target: '—',
      measured: `${f1(p50(times))} / ${f1(p99(times))} ms`,
      met: null,
      baseline: `${f1(p50(cps))} ms (cp of ${mb(BLOB_BYTES)}, p50)`,
      ratio: ratio(p50(times), p50(cps)),
    },
  );
  const gc = await runArtifactGc({
    store: store.artifacts,
    artifacts,
    keepBuildsPerJob: 20,
    logger,
    minAgeMs: 0,
  });
  notes.push(
    `(c) then \`runArtifactGc\` (keep 20): ${gc.buildsPruned} builds pruned, ${gc.rowsDeleted} rows deleted, ${gc.bytesFreed} bytes freed — the blob is still referenced by the 20 newest builds. Each build copies ${mb(BLOB_BYTES)} into its workspace, hashes it (\`put\`: the blob exists, nothing is written), removes the workspace.`,
  );
}

// ---- main ------------------------------------------------------------------------------------

const startedAt = new Date().toISOString();
const loadBefore = loadAverage();
const t0 = performance.now();
try {
  if (only.has('a')) await scenarioA();
  if (only.has('b')) await scenarioB();
  if (only.has('c')) await scenarioC();
} finally {
  await engine.stop();
  // As the server stops: a warm tree's deferred clean may still be running git in the data dir.
  await executor.stop();
  await store.close();
  if (!args.has('keep')) {
    await run('chmod', ['-R', 'u+w', dir]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  } else log(`kept ${dir}`);
}

const table = figureTable(rows);
const report = [
  `Latest run: ${startedAt} — ${machine()}; load average (1/5/15 min) ${loadBefore} at start, ${loadAverage()} at end; total ${f1((performance.now() - t0) / 1000)} s; (a): ${runsDone[0]} runs (webhook warm, forced trigger) and ${runsDone[1]} (webhook with fetch), each interleaved with its floor; command: \`npx tsx bench/executor/run.mts ${process.argv.slice(2).join(' ')}\`.`,
  '',
  table,
  '',
  ...extraTables.flatMap((t) => [t, '']),
  ...notes.map((n) => `- ${n}`),
].join('\n');
process.stdout.write(`${report}\n`);

if (!args.has('no-write')) {
  log(`wrote ${writeResultsSection('executor', '## Executor (bench/executor)', report)}`);
}
