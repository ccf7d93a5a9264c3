import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Build } from '../../src/core/build.js';
import { BuildRunner, type SlotLeases } from '../../src/runner/local/build-runner.js';
import type { QueuePort, Store } from '../../src/store/ports.js';
import { StoreUnavailableError } from '../../src/store/ports/unavailable.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { ScriptedExecutor } from '../../src/testing/scripted-executor.js';
import { queued, sha } from '../conformance/store/fixtures.js';

const LEASE_MS = 1500;
const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

/**
 * Local slots with a lease (a server replica's): the claim takes one, renewals move it while the
 * build runs, a renewal that finds it gone kills the run and records nothing, and a result that
 * arrives after the lease was swept is refused. The store is real (SQLite in memory; the same
 * statements run on PostgreSQL in `test/replicas/slot-leases.test.ts`).
 */
describe('local slots holding leases', () => {
  let store: Store;
  let executor: ScriptedExecutor;
  let runner: BuildRunner;
  let finished: Build[];
  let warnings: string[];

  beforeEach(async () => {
    store = await openSqliteStore({ path: ':memory:' });
    await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
    executor = new ScriptedExecutor().hold('build');
    finished = [];
    warnings = [];
  });

  afterEach(async () => {
    executor.release();
    await runner?.stop('requeue');
    await store.close();
  });

  function start(lease: SlotLeases, queue: QueuePort = store.queue): void {
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
    runner = new BuildRunner({
      queue,
      executor,
      pipeline: () => p,
      slots: 1,
      worker: 'replica-a',
      now: Date.now,
      logger,
      secret: () => undefined,
      lease,
      onStarted: () => undefined,
      onLog: () => undefined,
      onFinished: (b) => void finished.push(b),
    });
    runner.wake();
  }

  const leaseOf = async (id: number) =>
    (await store.agents.leasedBuilds()).find((l) => l.id === id)?.leaseExpiresAt;
  const finishedRows = async (id: number) =>
    (await store.outbox.outboxSince(0, 100)).filter(
      (o) => o.buildId === id && o.type === 'finished',
    ).length;

  it('claims under a lease and renews it while the build runs; the result is recorded', async () => {
    const [id] = await queued(store, sha(1), [['fp1']]);
    const claimedAt = Date.now();
    start({ port: store.agents, ms: LEASE_MS });
    await executor.waitUntilRunning(1);
    const first = await leaseOf(id!);
    expect(first).toBeGreaterThanOrEqual(claimedAt + LEASE_MS);
    // Renewed every third of the lease: it moves while the build runs.
    await vi.waitFor(async () => expect(await leaseOf(id!)).toBeGreaterThan(first!), {
      timeout: 5000,
      interval: 100,
    });
    executor.release();
    await runner.idle();
    expect(finished.map((b) => [b.id, b.state])).toEqual([[id, 'passed']]);
    expect(await finishedRows(id!)).toBe(1);
  });

  it('a claim that committed while its answer was lost is handed back at once, built once', async () => {
    const [id] = await queued(store, sha(1), [['fp1']]);
    // The first claim commits, then the connection drops before its answer (a PostgreSQL
    // restart during the COMMIT): the store says replica-a runs a build it never heard of.
    let cuts = 1;
    const queue = new Proxy(store.queue, {
      get(target, key) {
        if (key === 'claimNextBuild')
          return async (...args: Parameters<QueuePort['claimNextBuild']>) => {
            const build = await target.claimNextBuild(...args);
            if (build && cuts-- > 0)
              throw new StoreUnavailableError('Connection terminated unexpectedly');
            return build;
          };
        const value: unknown = Reflect.get(target, key);
        return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
      },
    });
    start({ port: store.agents, ms: 60_000 }, queue);
    await vi.waitFor(() => expect(warnings.join('\n')).toMatch(/database is unavailable/), {
      timeout: 5000,
      interval: 50,
    });
    expect(await store.read.getBuild(id!)).toMatchObject({ state: 'running', worker: 'replica-a' });
    // The next wake-up (bus or poll) finds the store answering: the build goes back to the queue
    // and runs now, not after the lease (a minute here) as `error: lost` plus a retry.
    runner.wake();
    await executor.waitUntilRunning(1);
    executor.release();
    await runner.idle();
    expect(finished.map((b) => [b.id, b.state])).toEqual([
      [id, 'queued'],
      [id, 'passed'],
    ]);
    expect(await store.read.getBuild(id!)).toMatchObject({ state: 'passed', attempt: 1 });
    const types = (await store.outbox.outboxSince(0, 100))
      .filter((o) => o.buildId === id)
      .map((o) => o.type);
    expect(types).toEqual(['queued', 'started', 'queued', 'started', 'finished']);
    expect(warnings.join('\n')).toMatch(/handed back to the queue/);
  });

  it('a finish that committed but whose answer was lost is recorded once and announced, not refused', async () => {
    const [id] = await queued(store, sha(1), [['fp1']]);
    let cuts = 1;
    start({
      port: {
        renewLeases: (...args) => store.agents.renewLeases(...args),
        handBackClaims: (...args) => store.agents.handBackClaims(...args),
        finishLeased: async (...args) => {
          const done = await store.agents.finishLeased(...args);
          if (cuts-- > 0) throw new StoreUnavailableError('Connection terminated unexpectedly');
          return done;
        },
      },
      ms: 60_000,
    });
    await executor.waitUntilRunning(1);
    executor.release();
    await vi.waitFor(() => expect(finished.map((b) => [b.id, b.state])).toEqual([[id, 'passed']]), {
      timeout: 5000,
      interval: 50,
    });
    expect(warnings.join('\n')).not.toMatch(/result refused/);
    expect(await finishedRows(id!)).toBe(1);
  });

  it('a renewal that finds the lease swept kills the run and records nothing', async () => {
    const [id] = await queued(store, sha(1), [['fp1']]);
    start({ port: store.agents, ms: LEASE_MS });
    await executor.waitUntilRunning(1);
    // Another replica's sweep, as if this one had been frozen past its lease.
    const swept = await store.agents.expireLeases(Date.now() + 60_000, 2);
    expect(swept.lost.map((b) => [b.id, b.reason])).toEqual([
      [id, 'lost: replica replica-a stopped renewing its lease'],
    ]);
    await vi.waitFor(() => expect(executor.runs[0]?.state).toBe('cancelled'), {
      timeout: 5000,
      interval: 50,
    });
    await vi.waitFor(() => expect(warnings.join('\n')).toMatch(/result discarded/), {
      timeout: 5000,
      interval: 50,
    });
    expect(warnings.join('\n')).toMatch(/build lease lost/);
    // Nothing of this run was recorded or announced; the sweep's ending stands, reported once.
    expect(finished.filter((b) => b.id === id)).toEqual([]);
    expect(await store.read.getBuild(id!)).toMatchObject({ state: 'error' });
    expect(await finishedRows(id!)).toBe(1);
  });

  it('a result that arrives after the lease was swept is refused (the guarded finish)', async () => {
    const [id] = await queued(store, sha(1), [['fp1']]);
    // Renewals that report every lease held: the sweep is not noticed before the result.
    start({
      port: {
        renewLeases: (_worker, ids) => Promise.resolve([...ids]),
        finishLeased: (...args) => store.agents.finishLeased(...args),
        handBackClaims: (...args) => store.agents.handBackClaims(...args),
      },
      ms: LEASE_MS,
    });
    await executor.waitUntilRunning(1);
    const swept = await store.agents.expireLeases(Date.now() + 60_000, 2);
    expect(swept.requeued).toHaveLength(1);
    executor.release();
    await vi.waitFor(() => expect(warnings.join('\n')).toMatch(/result refused/), {
      timeout: 5000,
      interval: 50,
    });
    expect(finished.filter((b) => b.id === id)).toEqual([]);
    expect(await store.read.getBuild(id!)).toMatchObject({ state: 'error' });
    expect(await finishedRows(id!)).toBe(1);
  });
});
