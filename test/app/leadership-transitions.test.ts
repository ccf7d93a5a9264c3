import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/app/engine.js';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { http, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { ScriptedExecutor } from '../../src/testing/scripted-executor.js';
import { HandLeadership } from '../leader/hand-leadership.js';

const silent = pino({ level: 'silent' });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, done: () => boolean | Promise<boolean>, ms = 5_000) {
  const deadline = Date.now() + ms;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await pause(20);
  }
}

describe('an engine that leads only while its leadership says so', () => {
  let store: Store | null = null;
  let engine: Engine | null = null;
  afterEach(async () => {
    await engine?.stop();
    await store?.close();
    engine = null;
    store = null;
  });

  const push = (e: Engine, version: string) =>
    e.ingest({
      kind: 'source',
      source: 'app',
      version,
      ref: null,
      origin: 'webhook',
      deliveryId: null,
      changedPaths: null,
      producedBy: null,
      receivedAt: Date.now(),
    });

  it('decides nothing as a follower, decides what waited when it takes the lead, stops when it loses it', async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const leadership = new HandLeadership();
    engine = await Engine.start({
      store,
      bus: new MemoryBus(),
      executor: new ScriptedExecutor(),
      pipeline: pipeline({ sources: { app: http() }, jobs: { build: job({ inputs: ['app'] }) } }),
      logger: silent,
      slots: 1,
      worker: 'replica-1',
      replication: { leadership, pollMs: 50 },
    });
    const s = store;
    const builds = async () =>
      (await s.read.listBuilds({ limit: 50 })).map((b) => `${b.inputs[0]?.version} ${b.state}`);

    expect(engine.leading).toBe(false);
    await push(engine, 'v1');
    await pause(300);
    expect(await builds()).toEqual([]);

    leadership.grant();
    await until('v1 built', async () => (await builds()).includes('v1 passed'));
    expect(engine.leading).toBe(true);

    leadership.revoke();
    await until('stepped down', () => engine?.leading === false);
    await push(engine, 'v2');
    await pause(300);
    expect(await builds()).toEqual(['v1 passed']);

    // Taking the lead again: the state is loaded fresh, v1 is not built twice, v2 is built.
    leadership.grant();
    await until('v2 built', async () => (await builds()).includes('v2 passed'));
    expect((await builds()).sort()).toEqual(['v1 passed', 'v2 passed']);
  });
});

describe('replicas talking over the bus', () => {
  let store: Store | null = null;
  let engine: Engine | null = null;
  afterEach(async () => {
    await engine?.stop();
    await store?.close();
    engine = null;
    store = null;
  });

  it("a trigger on a follower answers with the leader's decision; a cancel for a build it does not run goes out on the bus", async () => {
    store = await openSqliteStore({ path: ':memory:' });
    const bus = new MemoryBus();
    const signals: unknown[] = [];
    bus.subscribe('replicas', (m) => signals.push(m));
    const leadership = new HandLeadership();
    engine = await Engine.start({
      store,
      bus,
      executor: new ScriptedExecutor(),
      pipeline: pipeline({ jobs: { hello: job() } }),
      logger: silent,
      slots: 0,
      worker: 'replica-1',
      replication: { leadership, pollMs: 50 },
    });
    const e = engine;
    // The lead arrives while the trigger waits (another replica would decide it the same way).
    setTimeout(() => leadership.grant(), 300);
    const result = await e.trigger('hello', { force: true, by: 'test' });
    expect(result.build).toMatchObject({ job: 'hello', state: 'queued' });
    expect(signals).toContainEqual({ kind: 'inbox' });

    // A build running on another replica: claimed under its name, not by this engine's runner.
    const s = store;
    const claimed = await s.queue.claimNextBuild('replica-2', Date.now());
    expect(claimed).not.toBeNull();
    const after = await e.cancel(claimed!.id, 'alice');
    expect(after).toMatchObject({ state: 'running' });
    expect(signals).toContainEqual({
      kind: 'cancel',
      buildId: claimed!.id,
      reason: 'cancelled by alice',
    });
  });
});

describe('startNightless as a replica', () => {
  let root: string | null = null;
  let nl: Nightless | null = null;
  afterEach(async () => {
    await nl?.stop();
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 5 });
    nl = null;
    root = null;
  });

  it('dispatches reports only while leading, and serves the API either way', async () => {
    root = await mkdtemp(join(tmpdir(), 'nightless-replica-'));
    await writeFile(
      join(root, 'nightless.yaml'),
      'pipeline: replica-test\njobs:\n  hello:\n    steps:\n      - run: "true"\n',
    );
    const leadership = new HandLeadership();
    nl = await startNightless({
      configPath: join(root, 'nightless.yaml'),
      dataDir: join(root, 'data'),
      host: '127.0.0.1',
      port: 0,
      slots: 0,
      logger: silent,
      watchConfig: false,
      replica: { name: 'replica-1', leadership },
    });
    const app = nl;
    expect(app.engine.leading).toBe(false);
    expect(() => app.reports).toThrow(/leading replica only/);
    const res = await fetch(`${app.url}/api/builds`, { signal: AbortSignal.timeout(5_000) });
    expect(res.status).toBe(200);

    const leaderGauge = async () => {
      const text = await (
        await fetch(`${app.url}/metrics`, { signal: AbortSignal.timeout(5_000) })
      ).text();
      return text.split('\n').find((l) => l.startsWith('nightless_leader '));
    };
    expect(await leaderGauge()).toBe('nightless_leader 0');
    leadership.grant();
    await until('leading', async () => (await leaderGauge()) === 'nightless_leader 1');
    await until('reports running', () => {
      try {
        return app.reports !== null;
      } catch {
        return false;
      }
    });
    leadership.revoke();
    await until('reports stopped', () => {
      try {
        void app.reports;
        return false;
      } catch {
        return true;
      }
    });
  });
});
