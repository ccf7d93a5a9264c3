/**
 * Shared helpers for the scheduler bench: synthetic pipelines, an executor that never runs,
 * a fresh SQLite file per scenario, percentiles and the machine description.
 */
import { execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, freemem, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { GitSource, JobDef, Pipeline, SourceDef } from '../../src/core/pipeline.js';
import { Engine } from '../../src/app/engine.js';
import type { Executor } from '../../src/executor/port.js';
import type { NewEvent } from '../../src/store/ports.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { processStarts } from '../lib/report.mjs';

export const REF = 'main';

export function gitSource(name: string): GitSource {
  return {
    kind: 'git',
    name,
    url: `https://example.invalid/${name}.git`,
    branches: [REF],
    webhookSecret: null,
    fallbackPollMs: null,
    quietPeriodMs: null,
  };
}

export function job(name: string, inputs: readonly string[]): JobDef {
  return {
    name,
    inputs,
    steps: [{ name: 'build', run: `echo building ${name}`, env: {}, timeoutMs: null }],
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
  };
}

/**
 * `jobs` jobs named `j0..`, each with one git input given by `sourceOf(i)`; `consumers` and
 * `order` are computed the way the config loader does (declaration order, no job-output edges).
 */
export function makePipeline(jobs: number, sourceOf: (i: number) => string): Pipeline {
  const sources = new Map<string, SourceDef>();
  const jobMap = new Map<string, JobDef>();
  const consumers = new Map<string, string[]>();
  const order: string[] = [];
  for (let i = 0; i < jobs; i++) {
    const src = sourceOf(i);
    if (!sources.has(src)) sources.set(src, gitSource(src));
    const name = `j${i}`;
    jobMap.set(name, job(name, [src]));
    order.push(name);
    const list = consumers.get(src) ?? [];
    list.push(name);
    consumers.set(src, list);
  }
  return { name: 'bench', sources, jobs: jobMap, reports: [], consumers, order, secretValues: [] };
}

/** Slots are 0, so this is never called; if it were, the build would hang rather than run. */
export const neverExecutor: Executor = {
  run: () => new Promise(() => undefined),
};

export function sourceEvent(source: string, version: string, receivedAt = Date.now()): NewEvent {
  return {
    kind: 'source',
    source,
    version,
    ref: REF,
    origin: 'webhook',
    deliveryId: null,
    changedPaths: null,
    producedBy: null,
    receivedAt,
  };
}

/** A 40-hex commit-like version, deterministic per (source, n). */
export function sha(seed: string, n: number): string {
  let h = 2166136261 ^ n;
  let out = '';
  for (let k = 0; out.length < 40; k++) {
    for (let c = 0; c < seed.length; c++) h = Math.imul(h ^ seed.charCodeAt(c), 16777619);
    h = Math.imul(h ^ k, 16777619) >>> 0;
    out += h.toString(16).padStart(8, '0');
  }
  return out.slice(0, 40);
}

export interface Harness {
  readonly dir: string;
  readonly dbPath: string;
  readonly store: Store;
  readonly engine: Engine;
  close(): Promise<void>;
}

export function tempDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `nightless-bench-${tag}-`));
}

export async function startEngine(pipeline: Pipeline, dir: string): Promise<Harness> {
  const dbPath = join(dir, 'nightless.db');
  const store = await openSqliteStore({ path: dbPath });
  const engine = await Engine.start({
    store,
    bus: new MemoryBus(),
    executor: neverExecutor,
    pipeline,
    logger: pino({ level: 'silent' }),
    slots: 0,
  });
  await engine.decided();
  return {
    dir,
    dbPath,
    store,
    engine,
    close: async () => {
      await engine.stop();
      await store.close();
    },
  };
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Elapsed wall-clock and CPU (user + system, all threads) milliseconds. */
export interface Span {
  readonly wall: number;
  readonly cpu: number;
}

function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Starts measuring; the returned function reads the span so far. */
export function stopwatch(): () => Span {
  const w = performance.now();
  const c = cpuNow();
  return () => ({ wall: performance.now() - w, cpu: cpuNow() - c });
}

export { percentile } from '../lib/report.mjs';

export function ms(n: number, digits = 3): string {
  return `${n.toFixed(digits)} ms`;
}

export interface Machine {
  readonly nproc: string;
  readonly cpu: string;
  readonly memory: string;
  readonly node: string;
  readonly date: string;
  /** 1/5/15-minute load average when the run started: the machine is shared. */
  readonly load: string;
  /** How fast the machine started processes then (`processStarts` of bench/lib/report.mts). */
  readonly starts: string;
}

export function machine(): Machine {
  let nproc = String(cpus().length);
  let memory = `${(totalmem() / 2 ** 30).toFixed(1)} GiB total, ${(freemem() / 2 ** 30).toFixed(1)} GiB free`;
  try {
    nproc = execSync('nproc', { encoding: 'utf8' }).trim();
  } catch {
    // keep os.cpus()
  }
  try {
    const lines = execSync('free -h', { encoding: 'utf8' }).trim().split('\n');
    const mem = lines.find((l) => l.startsWith('Mem:'))?.split(/\s+/);
    if (mem) memory = `${mem[1]} total, ${mem[2]} used, ${mem[6] ?? mem[3]} available (free -h)`;
  } catch {
    // keep os figures
  }
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m?.[1]) cpu = m[1].trim();
  } catch {
    // not Linux
  }
  const load = loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const date = new Date().toISOString();
  return { nproc, cpu, memory, node: process.version, date, load, starts: processStarts() };
}
