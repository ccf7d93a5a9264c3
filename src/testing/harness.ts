import { deepStrictEqual } from 'node:assert/strict';
import type { VersionFacts } from '../scheduler/version-facts.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { MemoryBus } from '../bus/memory/memory-bus.js';
import type { Build, BuildCause, BuildState, EventOrigin } from '../core/build.js';
import type { Pipeline } from '../core/pipeline.js';
import { Engine } from '../app/engine.js';
import type { AppendedEvent, DecisionRecord, NewEvent, Store } from '../store/ports.js';
import { harnessStore, type HarnessStore } from './harness-store.js';
import { ScriptedExecutor } from './scripted-executor.js';

export interface HarnessOptions {
  /** Local build slots; default 1. */
  readonly slots?: number;
  readonly executor?: ScriptedExecutor;
  /**
   * Injected clock for timestamps and quiet periods; default `Date.now`. With a `ManualClock`,
   * call `decided()` before moving it: the scheduler stamps a version when it decides it, not
   * when it is pushed. Quiet-period timers stay real and re-check the clock when they fire.
   */
  readonly now?: () => number;
  readonly maxAttempts?: number;
  /** What the scheduler may ask about git versions (a fake mirror); default none. */
  readonly facts?: VersionFacts;
}

export interface PushOptions {
  /** Git branch; default the source's first branch for git sources, `null` otherwise. */
  readonly ref?: string | null;
  readonly origin?: EventOrigin;
  readonly changedPaths?: readonly string[] | null;
  readonly deliveryId?: string | null;
}

/** One expected build in `expectHistory`: only the keys given are compared. */
export interface HistoryEntry {
  readonly job: string;
  readonly id?: number;
  readonly state?: BuildState;
  readonly forced?: boolean;
  /** Source → version of the build's input set (every input). */
  readonly inputs?: Readonly<Record<string, string>>;
  readonly reason?: string | RegExp | null;
  readonly relatedBuild?: number | null;
  readonly cause?: BuildCause['kind'];
  readonly attempt?: number;
}

/**
 * The whole engine in-process for integration tests (CONVENTIONS §11): a real SQLite store in a
 * temp directory (PostgreSQL with `NIGHTLESS_TEST_STORE=postgres`, see `harness-store.ts`), the
 * in-process bus and a `ScriptedExecutor`. Typical use:
 *
 *     const h = await startHarness(pipeline({...}), { slots: 1 });
 *     await h.push('app', 'a1');
 *     await h.settle();
 *     await h.expectHistory([{ job: 'build', state: 'passed', inputs: { app: 'a1' } }]);
 *     await h.stop(); // in afterEach: stops the engine, closes the store, removes the directory
 *
 * `settle()` waits for held builds forever by design of the engine, so it refuses to wait while
 * the executor holds a run: use `decided()` then, or `executor.release()` first.
 */
export class Harness {
  private constructor(
    private current: Engine,
    private currentStore: Store,
    readonly executor: ScriptedExecutor,
    readonly bus: MemoryBus,
    readonly dir: string,
    private readonly opts: HarnessOptions,
    private readonly backing: HarnessStore,
  ) {}

  static async start(pipeline: Pipeline, opts: HarnessOptions = {}): Promise<Harness> {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-harness-'));
    const backing = harnessStore(dir);
    const store = await backing.open();
    const executor = opts.executor ?? new ScriptedExecutor();
    const bus = new MemoryBus();
    const engine = await Engine.start(engineOptions(pipeline, store, executor, bus, opts));
    return new Harness(engine, store, executor, bus, dir, opts, backing);
  }

  get engine(): Engine {
    return this.current;
  }

  get store(): Store {
    return this.currentStore;
  }

  get now(): () => number {
    return this.opts.now ?? Date.now;
  }

  /** Announces `source@version` (a webhook by default), durable once this resolves. */
  push(source: string, version: string, opts: PushOptions = {}): Promise<AppendedEvent> {
    return this.current.ingest(this.sourceEvent(source, version, opts));
  }

  /** The inbox event `push` writes, for `engine.ingestMany` of several in one transaction. */
  sourceEvent(source: string, version: string, opts: PushOptions = {}): NewEvent {
    const def = this.current.pipeline.sources.get(source);
    const ref =
      opts.ref !== undefined ? opts.ref : def?.kind === 'git' ? (def.branches[0] ?? null) : null;
    return {
      kind: 'source',
      source,
      version,
      ref,
      origin: opts.origin ?? 'webhook',
      deliveryId: opts.deliveryId ?? null,
      changedPaths: opts.changedPaths ?? null,
      producedBy: null,
      receivedAt: this.now(),
    };
  }

  /** Resolves when the scheduler decided everything in the inbox; builds may still run. */
  decided(): Promise<void> {
    return this.current.decided();
  }

  /**
   * Resolves when nothing is left to do: quiet periods over, inbox drained, queue empty, no
   * build running. Throws after `timeoutMs`, or at once while the executor holds a run.
   */
  async settle(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.executor.held > 0) {
        throw new Error(
          `${this.executor.held} build(s) are held running: release them or use decided()`,
        );
      }
      await this.current.settled();
      const { pendingSettles } = await this.currentStore.scheduler.loadSchedulerState();
      if (pendingSettles.length === 0) {
        await this.current.settled();
        return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `quiet periods still pending after ${timeoutMs} ms: ${pendingSettles.map((s) => s.job).join(', ')}`,
        );
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Every build, oldest first. */
  async builds(job?: string): Promise<Build[]> {
    const list = await this.currentStore.read.listBuilds({
      limit: 100_000,
      ...(job === undefined ? {} : { job }),
    });
    return list.reverse();
  }

  /** Decisions recorded for `nightless why`, oldest first. */
  async decisions(
    filter: { job?: string; eventId?: number; source?: string; version?: string } = {},
  ): Promise<DecisionRecord[]> {
    const list = await this.currentStore.read.listDecisions({ ...filter, limit: 100_000 });
    return list.reverse();
  }

  /** Asserts the build history (oldest first) matches `expected`, entry by entry. */
  async expectHistory(expected: readonly HistoryEntry[]): Promise<void> {
    const builds = await this.builds();
    const actual = builds.map((b, i) => project(b, expected[i]));
    deepStrictEqual(actual, expected.map(normalize), 'build history');
  }

  /** Swaps the pipeline (a reload) and waits for the reconcile to be decided. */
  async setPipeline(pipeline: Pipeline): Promise<void> {
    await this.current.setPipeline(pipeline);
    await this.current.decided();
  }

  /**
   * Simulates a process restart: stops the engine (running builds stay `running` in the store,
   * as after a crash), closes and reopens the store, starts a new engine on it.
   */
  async restart(pipeline: Pipeline = this.current.pipeline): Promise<void> {
    await this.current.stop({ abandonRunning: true });
    await this.currentStore.close();
    this.currentStore = await this.backing.open();
    this.current = await Engine.start(
      engineOptions(pipeline, this.currentStore, this.executor, this.bus, this.opts),
    );
  }

  /** Stops everything and removes the directory. Safe to call twice. */
  async stop(): Promise<void> {
    this.executor.release();
    await this.current.stop();
    await this.currentStore.close().catch(() => undefined);
    await this.bus.close();
    await this.backing.dispose();
    await rm(this.dir, { recursive: true, force: true });
  }
}

export function startHarness(pipeline: Pipeline, opts: HarnessOptions = {}): Promise<Harness> {
  return Harness.start(pipeline, opts);
}

function engineOptions(
  pipeline: Pipeline,
  store: Store,
  executor: ScriptedExecutor,
  bus: MemoryBus,
  opts: HarnessOptions,
) {
  return {
    store,
    bus,
    executor,
    pipeline,
    logger: pino({ level: 'silent' }),
    slots: opts.slots ?? 1,
    ...(opts.now ? { now: opts.now } : {}),
    ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
    ...(opts.facts ? { facts: opts.facts } : {}),
  };
}

/** The actual build reduced to the keys the expected entry names. */
function project(b: Build, e: HistoryEntry | undefined): Record<string, unknown> {
  if (!e) return { job: b.job, id: b.id, state: b.state };
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(e) as Array<keyof HistoryEntry>) {
    if (key === 'inputs')
      out.inputs = Object.fromEntries(b.inputs.map((i) => [i.source, i.version]));
    else if (key === 'cause') out.cause = b.cause.kind;
    else if (key === 'reason') {
      const matches = e.reason instanceof RegExp && b.reason !== null && e.reason.test(b.reason);
      out.reason = matches ? String(e.reason) : b.reason;
    } else out[key] = b[key];
  }
  return out;
}

function normalize(e: HistoryEntry): Record<string, unknown> {
  return e.reason instanceof RegExp ? { ...e, reason: String(e.reason) } : { ...e };
}
