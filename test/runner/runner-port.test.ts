import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../src/app/engine.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { Build } from '../../src/core/build.js';
import type { RunResult } from '../../src/executor/port.js';
import type { Runner, RunnerEvents, StopMode } from '../../src/runner/port.js';
import type { QueuePort, Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { ScriptedExecutor } from '../../src/testing/scripted-executor.js';

/**
 * A runner that is not the local slots — what a remote agent looks like to the engine: it claims
 * from the durable queue under its own worker name and reports results when the test says so.
 */
class HandRunner implements Runner {
  readonly running = new Map<number, Build>();
  readonly cancels: Array<[number, string]> = [];
  stopped: StopMode | null = null;

  constructor(
    private readonly queue: QueuePort,
    private readonly events: RunnerEvents,
  ) {}

  get busySlots(): number {
    return this.running.size;
  }

  wake(): void {
    if (this.stopped !== null) return;
    void this.queue.claimNextBuild('agent-1', Date.now()).then((b) => {
      if (!b) return;
      this.running.set(b.id, b);
      this.events.onStarted(b);
    });
  }

  cancelRunning(id: number, reason: string): boolean {
    if (!this.running.has(id)) return false;
    this.cancels.push([id, reason]);
    void this.finish(id, { state: 'cancelled', reason });
    return true;
  }

  async finish(id: number, outcome: { state: 'passed' } | { state: 'cancelled'; reason: string }) {
    this.running.delete(id);
    const result = { ...outcome, outputs: [], coverage: null, warnings: [] } as RunResult;
    const build = await this.queue.finishBuild(
      id,
      { result, logBytes: 0, outputEvents: [] },
      Date.now(),
    );
    this.events.onFinished(build);
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }

  stop(mode: StopMode): Promise<void> {
    this.stopped ??= mode;
    return Promise.resolve();
  }
}

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

describe('engine: a runner other than the local slots (Runner port)', () => {
  let dir: string;
  let store: Store;
  let engine: Engine;
  afterEach(async () => {
    await engine.stop();
    await store.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('hands queued builds to the runner it is given, and cancels through it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-runner-port-'));
    store = await openSqliteStore({ path: join(dir, 'state.db') });
    const executor = new ScriptedExecutor();
    let runner: HandRunner | null = null;
    engine = await Engine.start({
      store,
      bus: new MemoryBus(),
      executor,
      pipeline: p,
      logger: pino({ level: 'silent' }),
      slots: 1,
      runner: (events) => (runner = new HandRunner(store.queue, events)),
    });
    const agent = runner as unknown as HandRunner;
    const push = (version: string) =>
      engine.ingest({
        kind: 'source',
        source: 'app',
        version,
        ref: 'main',
        origin: 'webhook',
        deliveryId: null,
        changedPaths: null,
        producedBy: null,
        receivedAt: Date.now(),
      });

    await push('v1');
    await vi.waitFor(() => expect(agent.running.size).toBe(1), { timeout: 5000, interval: 10 });
    const first = (await store.read.getBuild(1))!;
    expect([first.state, first.worker]).toEqual(['running', 'agent-1']);

    await engine.cancel(1, 'alice');
    expect(agent.cancels).toEqual([[1, 'cancelled by alice']]);
    await vi.waitFor(
      async () =>
        expect(await store.read.getBuild(1)).toMatchObject({
          state: 'cancelled',
          reason: 'cancelled by alice',
        }),
      { timeout: 5000, interval: 10 },
    );

    await push('v2');
    await vi.waitFor(() => expect([...agent.running.keys()]).toEqual([2]), {
      timeout: 5000,
      interval: 10,
    });
    await agent.finish(2, { state: 'passed' });
    await engine.decided();
    expect((await store.read.listBuilds({ limit: 10 })).map((b) => [b.id, b.state])).toEqual([
      [2, 'passed'],
      [1, 'cancelled'],
    ]);
    // The local slots never ran: the executor was only there for recovery and system lines.
    expect(executor.runs).toEqual([]);

    await engine.stop();
    expect(agent.stopped).toBe('requeue');
  });
});
