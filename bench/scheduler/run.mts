/**
 * Scheduler bench: decision + persistence cost of the real engine (SQLite store, memory bus,
 * slots 0 so nothing runs). See bench/README.md.
 *
 *   npx tsx bench/scheduler/run.mts [--only=a,b,c,d] [--events=2000] [--no-write] [--keep]
 *
 * Each scenario gets a fresh SQLite file in a temp dir; each also measures a bare better-sqlite3
 * baseline in the same run. Prints a markdown table and writes it into bench/RESULTS.md.
 */
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { decide } from '../../src/core/scheduler/index.js';
import { MemorySnapshot } from '../../src/scheduler/scheduler-state.js';
import { batchedInserts, singleInsertLatencies } from './baselines.mjs';
import {
  machine,
  makePipeline,
  ms,
  percentile,
  removeDir,
  sha,
  sourceEvent,
  startEngine,
  tempDir,
  stopwatch,
  type Machine,
  type Span,
} from './lib.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const args = benchArgs();
const only = new Set((args.get('only') ?? 'a,b,c,d').split(','));
const EVENTS = Number(args.get('events') ?? 2000);
const JOBS = Number(args.get('jobs') ?? 10_000);
const DUPLICATES = Number(args.get('duplicates') ?? 100_000);
const keep = args.has('keep');

interface Row {
  readonly id: string;
  readonly figure: string;
  readonly target: string;
  /** Wall clock, as the target is stated. */
  readonly measured: string;
  /** The same figure in CPU time (user + system): what the code costs, whatever the machine's load. */
  readonly cpu: string;
  readonly met: boolean | null;
  readonly baseline: string;
  readonly ratio: string;
}

const rows: Row[] = [];
const notes: string[] = [];
const dirs: string[] = [];

function log(msg: string): void {
  process.stderr.write(`[bench] ${msg}\n`);
}

/** Deterministic PRNG so every run picks the same sources. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sorted = (xs: readonly number[]) => [...xs].sort((x, y) => x - y);
const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
const both = (wall: string, cpu: string) => `${wall} wall / ${cpu} CPU`;

// ---- (a) one event concerning one of 10,000 jobs ------------------------------------------

/** Leaves the database (10k jobs + history) behind for (d). */
async function scenarioA(): Promise<string> {
  const dir = tempDir('a');
  dirs.push(dir);
  const pipeline = makePipeline(JOBS, (i) => `s${i}`);
  let sw = stopwatch();
  let h = await startEngine(pipeline, dir);
  const startSpan = sw();
  log(`(a) engine started in ${ms(startSpan.wall, 0)} (CPU ${ms(startSpan.cpu, 0)})`);

  // History: one version of every source (JOBS queued builds), appended in batches.
  sw = stopwatch();
  for (let from = 0; from < JOBS; from += 1000) {
    const batch = [];
    for (let i = from; i < Math.min(JOBS, from + 1000); i++) {
      batch.push(sourceEvent(`s${i}`, sha(`s${i}`, 0)));
    }
    await h.engine.ingestMany(batch);
  }
  await h.engine.decided();
  const seed = sw();
  log(`(a) seeded ${JOBS} versions in ${ms(seed.wall, 0)} (CPU ${ms(seed.cpu, 0)})`);

  const rand = mulberry32(42);
  let n = 1;
  const next = () => {
    const s = `s${Math.floor(rand() * JOBS)}`;
    return sourceEvent(s, sha(s, n++));
  };
  for (let i = 0; i < 200; i++) {
    await h.engine.ingest(next());
    await h.engine.decided();
  }
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < EVENTS; i++) {
    const e = next();
    const stop = stopwatch();
    await h.engine.ingest(e);
    await h.engine.decided();
    const span = stop();
    wall.push(span.wall);
    cpu.push(span.cpu);
  }
  const w = sorted(wall);
  const c = sorted(cpu);
  log(
    `(a) ingest→decided wall p50 ${ms(percentile(w, 50))} p99 ${ms(percentile(w, 99))} max ${ms(w.at(-1) ?? NaN)}; CPU p50 ${ms(percentile(c, 50))} p99 ${ms(percentile(c, 99))}`,
  );
  await h.close();

  // The loop's own step, without the inbox round trip: decide + applyDecisions + snapshot.applied.
  sw = stopwatch();
  h = await startEngine(pipeline, dir);
  const restart = sw();
  await h.engine.stop(); // the snapshot below owns scheduling from here
  const snapshot = new MemorySnapshot(pipeline, await h.store.scheduler.loadSchedulerState());
  const step: number[] = [];
  const stepCpu: number[] = [];
  for (let i = 0; i < 200 + EVENTS; i++) {
    await h.store.inbox.appendEvent(next());
    const [event] = await h.store.scheduler.pendingEvents(1);
    if (!event) throw new Error('no pending event');
    const stop = stopwatch();
    const now = Date.now();
    const decisions = decide(snapshot, event, now);
    const applied = await h.store.scheduler.applyDecisions(event, decisions, now);
    snapshot.applied(applied, decisions);
    const span = stop();
    if (i >= 200) {
      step.push(span.wall);
      stepCpu.push(span.cpu);
    }
  }
  const st = sorted(step);
  const sc = sorted(stepCpu);
  log(`(a) decide+applyDecisions wall p50 ${ms(percentile(st, 50))} p99 ${ms(percentile(st, 99))}`);
  await h.store.close();

  const base = singleInsertLatencies(dir, EVENTS);
  const bw = sorted(base.map((b) => b.wall));
  const bc = sorted(base.map((b) => b.cpu));
  const row = (
    figure: string,
    target: string,
    p: number,
    walls: number[],
    cpus: number[],
    met: boolean | null,
  ): Row => ({
    id: 'a',
    figure,
    target,
    measured: ms(percentile(walls, p)),
    cpu: ms(percentile(cpus, p)),
    met,
    baseline: both(ms(percentile(bw, p)), ms(percentile(bc, p))),
    ratio: both(
      ratio(percentile(walls, p), percentile(bw, p)),
      ratio(percentile(cpus, p), percentile(bc, p)),
    ),
  });
  rows.push(
    row('(a) 1 event → 1 of 10k jobs: ingest→decided, p50', '—', 50, w, c, null),
    row(
      '(a) 1 event → 1 of 10k jobs: ingest→decided, p99',
      '< 2 ms',
      99,
      w,
      c,
      percentile(w, 99) < 2,
    ),
    row('(a) decide + applyDecisions only, p50', '—', 50, st, sc, null),
    row('(a) decide + applyDecisions only, p99', '—', 99, st, sc, null),
  );
  notes.push(
    `(a) ${EVENTS} measured events (after 200 warm-up) on random sources of ${JOBS}; each is a new version that queues 1 build and supersedes its queued predecessor. History seeded first: ${JOBS} versions via \`ingestMany\` in ${ms(seed.wall, 0)} wall / ${ms(seed.cpu, 0)} CPU; first engine start ${ms(startSpan.wall, 0)}, restart with that history ${ms(restart.wall, 0)}. CPU time per event is \`process.cpuUsage()\` around the same span. Baseline: bare better-sqlite3, one-row insert per transaction.`,
  );
  return join(dir, 'nightless.db');
}

// ---- (b) one event concerning all 10,000 jobs ---------------------------------------------

async function scenarioB(): Promise<void> {
  const dir = tempDir('b');
  dirs.push(dir);
  const pipeline = makePipeline(JOBS, () => 'shared');
  const h = await startEngine(pipeline, dir);
  const fanOut = async (version: number) => {
    const stop = stopwatch();
    await h.engine.ingest(sourceEvent('shared', sha('shared', version)));
    await h.engine.decided();
    return stop();
  };
  const first = await fanOut(1);
  const counts1 = await h.store.read.countBuildsByState();
  log(
    `(b) first fan-out ${ms(first.wall, 0)} (CPU ${ms(first.cpu, 0)}) ${JSON.stringify(counts1)}`,
  );
  const second = await fanOut(2);
  const counts2 = await h.store.read.countBuildsByState();
  log(
    `(b) second fan-out (supersedes) ${ms(second.wall, 0)} (CPU ${ms(second.cpu, 0)}) ${JSON.stringify(counts2)}`,
  );
  await h.close();
  if (counts1.queued !== JOBS) {
    throw new Error(`expected ${JOBS} queued builds, got ${JSON.stringify(counts1)}`);
  }
  const base = batchedInserts(dir, JOBS, JOBS);
  const rate = (s: Span) => `${((JOBS / s.wall) * 1000).toFixed(0)} builds/s`;
  rows.push(
    {
      id: 'b',
      figure: '(b) 1 event → 10k jobs: commit the fan-out',
      target: '< 1 s',
      measured: `${ms(first.wall, 0)} (${rate(first)})`,
      cpu: ms(first.cpu, 0),
      met: first.wall < 1000,
      baseline: both(ms(base.wall, 1), ms(base.cpu, 1)),
      ratio: both(ratio(first.wall, base.wall), ratio(first.cpu, base.cpu)),
    },
    {
      id: 'b',
      figure: '(b) next version → 10k queued + 10k superseded',
      target: '—',
      measured: `${ms(second.wall, 0)} (${rate(second)})`,
      cpu: ms(second.cpu, 0),
      met: null,
      baseline: both(ms(base.wall, 1), ms(base.cpu, 1)),
      ratio: both(ratio(second.wall, base.wall), ratio(second.cpu, base.cpu)),
    },
  );
  notes.push(
    `(b) ${JOBS} jobs all consuming \`shared\`; time from \`ingest\` to \`decided()\` (inbox write, decide, one transaction, outbox relay to the memory bus). Baseline: bare better-sqlite3, ${JOBS} rows in one transaction.`,
  );
}

// ---- (c) 100,000 duplicate events ---------------------------------------------------------

async function scenarioC(): Promise<void> {
  const dir = tempDir('c');
  dirs.push(dir);
  const pipeline = makePipeline(JOBS, (i) => `s${i}`);
  const h = await startEngine(pipeline, dir);
  const version = sha('s0', 1);
  await h.engine.ingest(sourceEvent('s0', version));
  await h.engine.decided();
  const BATCH = 1000;
  const stop = stopwatch();
  for (let sent = 0; sent < DUPLICATES; sent += BATCH) {
    const now = Date.now();
    const batch = Array.from({ length: Math.min(BATCH, DUPLICATES - sent) }, () =>
      sourceEvent('s0', version, now),
    );
    await h.engine.ingestMany(batch);
  }
  await h.engine.decided();
  const span = stop();
  const pending = await h.store.scheduler.pendingEvents(1);
  const counts = await h.store.read.countBuildsByState();
  await h.close();
  if (pending.length > 0) throw new Error('inbox not drained');
  if (counts.queued !== 1) throw new Error(`duplicates queued builds: ${JSON.stringify(counts)}`);
  const rate = (DUPLICATES / span.wall) * 1000;
  const cpuRate = (DUPLICATES / span.cpu) * 1000;
  log(
    `(c) ${DUPLICATES} duplicates in ${ms(span.wall, 0)} (CPU ${ms(span.cpu, 0)}) → ${rate.toFixed(0)} events/s`,
  );
  const base = batchedInserts(dir, DUPLICATES, BATCH);
  const baseRate = (DUPLICATES / base.wall) * 1000;
  const baseCpuRate = (DUPLICATES / base.cpu) * 1000;
  rows.push({
    id: 'c',
    figure: `(c) ${DUPLICATES / 1000}k duplicate events, ingestMany ×${BATCH} + drain`,
    target: '> 20,000 events/s',
    measured: `${rate.toFixed(0)} events/s (${ms(span.wall, 0)})`,
    cpu: `${cpuRate.toFixed(0)} events/CPU-s (${ms(span.cpu, 0)})`,
    met: rate > 20_000,
    baseline: both(`${baseRate.toFixed(0)} rows/s`, `${baseCpuRate.toFixed(0)} rows/CPU-s`),
    ratio: both(ratio(span.wall, base.wall), ratio(span.cpu, base.cpu)),
  });
  notes.push(
    `(c) ${DUPLICATES} events carrying the same version of one source, appended with \`ingestMany\` in batches of ${BATCH} while the scheduler drains, then \`decided()\`. Baseline: bare better-sqlite3, ${DUPLICATES} rows in transactions of ${BATCH}.`,
  );
}

// ---- (d) RSS with 10,000 jobs loaded ------------------------------------------------------

function child(args: readonly string[]): { rss: number; heapUsed: number; startMs: number } {
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--expose-gc', join(here, 'rss-child.mts'), ...args],
    { cwd: root, encoding: 'utf8' },
  );
  const line = out.trim().split('\n').at(-1) ?? '';
  return JSON.parse(line) as { rss: number; heapUsed: number; startMs: number };
}

function scenarioD(dbPath: string): void {
  const mb = (n: number) => n / 2 ** 20;
  const engine = child(['engine', dbPath, String(JOBS)]);
  const idle = child(['idle', dbPath]);
  log(
    `(d) engine RSS ${mb(engine.rss).toFixed(0)} MB (heap ${mb(engine.heapUsed).toFixed(0)} MB, start ${ms(engine.startMs, 0)}); idle ${mb(idle.rss).toFixed(0)} MB`,
  );
  rows.push({
    id: 'd',
    figure: '(d) RSS after GC, engine with 10k jobs + history',
    target: '< 250 MB',
    measured: `${mb(engine.rss).toFixed(0)} MB (heap ${mb(engine.heapUsed).toFixed(0)} MB)`,
    cpu: '—',
    met: mb(engine.rss) < 250,
    baseline: `${mb(idle.rss).toFixed(0)} MB`,
    ratio: ratio(engine.rss, idle.rss),
  });
  notes.push(
    `(d) child \`node --import tsx --expose-gc\` starts the engine on the database (a) left behind (${JOBS} jobs, each with queued and superseded builds), GCs, reads \`process.memoryUsage().rss\`; that start (recovery + \`loadSchedulerState\` + reconcile) took ${ms(engine.startMs, 0)}. Baseline: same flags, bare better-sqlite3 opened on the same file.`,
  );
}

// ---- report -------------------------------------------------------------------------------

function table(): string {
  const head =
    '| Figure | Target | Measured (wall) | Same, CPU time | Met | Baseline | Ratio (measured / baseline) |\n|---|---|---|---|---|---|---|';
  const body = rows.map(
    (r) =>
      `| ${r.figure} | ${r.target} | ${r.measured} | ${r.cpu} | ${r.met === null ? '' : r.met ? 'yes' : '**no**'} | ${r.baseline} | ${r.ratio} |`,
  );
  return [head, ...body].join('\n');
}

function machineLines(m: Machine): string {
  return [
    `- nproc: ${m.nproc}`,
    `- CPU: ${m.cpu}`,
    `- memory: ${m.memory}`,
    `- node: ${m.node}`,
    `- date: ${m.date}`,
    `- load average at start (1/5/15 min): ${m.load} — the machine is shared; CPU-time columns are the load-independent figures`,
    `- process starts: ${m.starts}`,
  ].join('\n');
}

function replaceBlock(text: string, start: string, end: string, content: string): string | null {
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) return null;
  return `${text.slice(0, i + start.length)}\n${content}\n${text.slice(j)}`;
}

/**
 * Refreshes the machine header, then the scheduler's `latest run` block (and the summary) as
 * every bench writes its own, leaving the other sections and the hand-written notes untouched.
 */
function writeResults(m: Machine, report: string): void {
  const file = join(root, 'bench', 'RESULTS.md');
  const MS = '<!-- machine:start -->';
  const ME = '<!-- machine:end -->';
  const text = existsSync(file)
    ? readFileSync(file, 'utf8')
    : `# Bench results\n\nFigures from \`bench/*\` (see bench/README.md). Machine of the latest run:\n\n${MS}\n${ME}\n`;
  writeFileSync(file, replaceBlock(text, MS, ME, machineLines(m)) ?? text);
  writeResultsSection('scheduler', '## Scheduler (bench/scheduler)', report);
  log(`wrote ${file}`);
}

const m = machine();
log(`machine: ${JSON.stringify(m)}`);
const started = performance.now();
try {
  let dbA: string | null = null;
  if (only.has('a') || only.has('d')) dbA = await scenarioA();
  if (only.has('b')) await scenarioB();
  if (only.has('c')) await scenarioC();
  if (only.has('d') && dbA) scenarioD(dbA);
  if (!only.has('a')) {
    for (let i = rows.length - 1; i >= 0; i--) if (rows[i]?.id === 'a') rows.splice(i, 1);
    for (let i = notes.length - 1; i >= 0; i--) if (notes[i]?.startsWith('(a)')) notes.splice(i, 1);
  }
} finally {
  if (!keep) for (const d of dirs) removeDir(d);
}
const report = [
  `Latest run: ${m.date} — ${m.nproc} × ${m.cpu}, ${m.memory}, node ${m.node}, load average ${m.load}, ${m.starts}; total ${((performance.now() - started) / 1000).toFixed(0)} s.`,
  '',
  table(),
  '',
  ...notes.map((n) => `- ${n}`),
].join('\n');
console.log(report);
if (!args.has('no-write')) writeResults(m, report);
