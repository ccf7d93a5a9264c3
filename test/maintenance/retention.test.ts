import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { parsePipeline } from '../../src/config/index.js';
import type { Pipeline } from '../../src/core/pipeline.js';
import { Engine } from '../../src/app/engine.js';
import { runRetention, type RetentionOptions } from '../../src/maintenance/retention.js';
import { logPath } from '../../src/executor/log-reader.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const logger = pino({ level: 'silent' });

/**
 * Job `a` (real bash steps, real log files) writes `$CTRL/content` into its output and fails
 * while `$CTRL/fail` exists; job `b` consumes `a.dist` and holds while `$CTRL/hold` exists.
 */
function pipelineText(ctrl: string, retention: string): string {
  return `
retention: ${retention}
jobs:
  a:
    env: { CTRL: ${JSON.stringify(ctrl)} }
    steps:
      - run: |
          echo "building a with some log text to make the file non-trivial"
          mkdir -p dist && cat "$CTRL/content" > dist/out.txt && test ! -e "$CTRL/fail"
    outputs:
      dist: dist/out.txt
  b:
    inputs: [a.dist]
    env: { CTRL: ${JSON.stringify(ctrl)} }
    steps:
      - run: |
          echo "b consumed $NIGHTLESS_INPUT_A_DIST_VERSION"
          while [ -e "$CTRL/hold" ]; do sleep 0.02; done
`;
}

interface World {
  readonly dir: string;
  readonly ctrl: string;
  readonly store: Store;
  readonly artifacts: ContentStore;
  readonly engine: Engine;
  readonly pipeline: Pipeline;
}

async function startWorld(retention: string): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'nightless-retention-'));
  const ctrl = join(dir, 'ctrl');
  execFileSync('mkdir', ['-p', ctrl]);
  await writeFile(join(ctrl, 'content'), 'first\n');
  const store = await openSqliteStore({ path: join(dir, 'nightless.db') });
  const artifacts = new ContentStore(dir);
  const executor = new LocalExecutor({ dataDir: dir, artifacts, killGraceMs: 200 });
  const pipeline = parsePipeline(pipelineText(ctrl, retention), join(dir, 'nightless.yaml'), {
    env: {},
  });
  const engine = await Engine.start({
    store,
    bus: new MemoryBus(),
    executor,
    pipeline,
    logger,
    slots: 2,
  });
  await engine.settled();
  return { dir, ctrl, store, artifacts, engine, pipeline };
}

async function stopWorld(w: World): Promise<void> {
  await w.engine.stop();
  await w.store.close();
  execFileSync('chmod', ['-R', 'u+w', w.dir]);
  await rm(w.dir, { recursive: true, force: true, maxRetries: 5 });
}

/** Force-builds `a` with `content`, waits until everything it caused settled; returns a's id. */
async function buildA(w: World, content: string): Promise<number> {
  await writeFile(join(w.ctrl, 'content'), content);
  const { build } = await w.engine.trigger('a', { force: true, by: 'test' });
  if (build === null) throw new Error('nothing queued');
  await w.engine.settled();
  return build.id;
}

function retentionOpts(w: World, extra: Partial<RetentionOptions> = {}): RetentionOptions {
  return {
    store: w.store,
    deliveries: w.store.deliveries,
    artifacts: w.artifacts,
    pipeline: w.pipeline,
    reportTargets: [],
    logFile: (id) => logPath(w.dir, id),
    onBuildsDeleted: (builds) => w.engine.forgetBuilds(builds),
    logger,
    blobMinAgeMs: 0,
    ...extra,
  };
}

async function buildIds(w: World, job: string): Promise<number[]> {
  return (await w.store.read.listBuilds({ job, limit: 1000 }))
    .map((b) => b.id)
    .sort((x, y) => x - y);
}

/** Rows of `table`, read through a second, read-only connection (WAL allows it). */
function count(w: World, table: 'decisions' | 'events' | 'outbox' | 'deliveries'): number {
  const db = new BetterSqlite3(join(w.dir, 'nightless.db'), { readonly: true });
  try {
    return (db.prepare(`select count(*) as n from ${table}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
}

describe('retention on a real store with real log files', { timeout: 120_000 }, () => {
  let w: World | null = null;
  afterEach(async () => {
    if (w) await stopWorld(w);
    w = null;
  });

  it('keeps the window, the newest passed build and what kept builds reference; deletes the rest with logs, history and blobs', async () => {
    w = await startWorld('{ builds: 3 }');
    // The definition build of a (content "first") and its b.
    const passed: number[] = [];
    for (let i = 0; i < 4; i++) passed.push(await buildA(w, `content ${i}\n`));
    const newestPassed = passed.at(-1) ?? 0;
    await writeFile(join(w.ctrl, 'fail'), '');
    const failed: number[] = [];
    for (let i = 0; i < 4; i++) failed.push(await buildA(w, `never stored ${i}\n`));

    const aBefore = await buildIds(w, 'a');
    const bBefore = await buildIds(w, 'b');
    expect(aBefore).toHaveLength(9);
    expect(bBefore).toHaveLength(5);
    const logsBefore = await readdir(join(w.dir, 'logs'));
    expect(logsBefore).toHaveLength(14);
    const bytesBefore = await w.artifacts.totalBytes();
    const decisionsBefore = count(w, 'decisions');
    const eventsBefore = count(w, 'events');
    const outboxBefore = count(w, 'outbox');
    const sizes = new Map(
      [...aBefore, ...bBefore].map((id) => [id, statSync(logPath(w?.dir ?? '', id)).size]),
    );

    const report = await runRetention(retentionOpts(w));

    // b: its 3 newest, which consumed the outputs of a's passed builds 2, 3 and 4 (of 0..4).
    const bKept = bBefore.slice(-3);
    expect(await buildIds(w, 'b')).toEqual(bKept);
    // a: its 3 newest (failed), the newest passed (4, also the producer of the a.dist head),
    // and the producers of what b's kept builds consumed (2, 3) although outside a's window.
    const aKept = [passed[1] ?? 0, passed[2] ?? 0, newestPassed, ...failed.slice(-3)];
    expect(await buildIds(w, 'a')).toEqual(aKept);
    const deleted = [...aBefore, ...bBefore].filter(
      (id) => !aKept.includes(id) && !bKept.includes(id),
    );
    expect(deleted).toHaveLength(5);
    // Their rows stay (trace, why, pinned reruns name them); their files follow `artifacts`
    // (here 3 = the window: the failed builds), so only the head producer still has files.
    const consumed = await Promise.all(
      bKept.map(async (id) => (await w?.store.read.getBuild(id))?.inputs[0]?.version),
    );
    const producedByKept = await Promise.all(
      [passed[1] ?? 0, passed[2] ?? 0, newestPassed].map(
        async (id) => (await w?.store.read.producedVersions(id))?.[0]?.version,
      ),
    );
    expect(consumed).toEqual(producedByKept);
    expect((await w.store.read.getBuild(passed[1] ?? 0))?.outputs[0]?.files).toEqual([]);
    expect((await w.store.read.getBuild(newestPassed))?.outputs[0]?.files).toHaveLength(1);
    expect(report.rows.builds).toBe(deleted.length);
    for (const id of deleted) {
      expect(await w.store.read.getBuild(id)).toBeNull();
      expect(existsSync(logPath(w.dir, id))).toBe(false);
    }
    for (const id of [...aKept, ...bKept]) expect(existsSync(logPath(w.dir, id))).toBe(true);
    expect(report.bytes.logs).toBe(deleted.reduce((n, id) => n + (sizes.get(id) ?? 0), 0));
    expect(report.bytes.logs).toBeGreaterThan(0);
    // History went with them; what a kept build names is still there.
    expect(count(w, 'decisions')).toBe(decisionsBefore - report.rows.decisions);
    expect(report.rows.decisions).toBeGreaterThan(0);
    expect(report.rows.events).toBeGreaterThan(0);
    expect(count(w, 'events')).toBe(eventsBefore - report.rows.events);
    // No report targets: every outbox row of a deleted build is delivered.
    expect(report.rows.outbox).toBeGreaterThan(0);
    expect(count(w, 'outbox')).toBe(outboxBefore - report.rows.outbox);
    for (const id of [...aKept, ...bKept]) {
      const decisions = await w.store.read.listDecisions({
        job: (await w.store.read.getBuild(id))?.job ?? '',
        limit: 1000,
      });
      expect(decisions.some((d) => d.buildId === id)).toBe(true);
    }
    // Blobs of deleted builds are gone, the kept builds' remain readable.
    expect(report.bytes.artifacts).toBeGreaterThan(0);
    expect(await w.artifacts.totalBytes()).toBe(bytesBefore - report.bytes.artifacts);
    const head = (await w.store.sources.sourceHeads('a.dist'))[0];
    expect(await w.store.queue.outputFiles('a.dist', head?.version ?? '')).toHaveLength(1);

    // Idempotent, and the server still schedules: a new passed build of a runs b.
    const again = await runRetention(retentionOpts(w));
    expect(again.rows.builds).toBe(0);
    await rm(join(w.ctrl, 'fail'));
    await buildA(w, 'after retention\n');
    expect((await w.store.read.listBuilds({ job: 'b', limit: 1 }))[0]?.state).toBe('passed');
  });

  it('never deletes a running build or an undelivered outbox row', async () => {
    w = await startWorld('{ builds: 1, age: 1s }');
    await writeFile(join(w.ctrl, 'hold'), '');
    await writeFile(join(w.ctrl, 'content'), 'held input\n');
    await w.engine.trigger('a', { force: true, by: 'test' });
    let running: number | undefined;
    for (let i = 0; i < 2000 && running === undefined; i++) {
      running = (await w.store.read.listBuilds({ job: 'b', state: 'running', limit: 1 }))[0]?.id;
      if (running === undefined) await new Promise((r) => setTimeout(r, 5));
    }
    if (running === undefined) throw new Error('b never started');
    // A report target that has delivered nothing holds every outbox row back.
    await w.store.deliveries.ensureCursor('slow', 'webhook', 0, Date.now());
    const outboxBefore = count(w, 'outbox');

    // Far in the future: every finished build is older than the age limit.
    const report = await runRetention(
      retentionOpts(w, { reportTargets: ['slow'], now: () => Date.now() + 60_000 }),
    );
    expect(await w.store.read.getBuild(running)).not.toBeNull();
    expect(existsSync(logPath(w.dir, running))).toBe(true);
    expect(await w.store.retention.deleteBuilds([running])).toEqual({ builds: [], decisions: 0 });
    expect(report.rows.outbox).toBe(0);
    expect(count(w, 'outbox')).toBe(outboxBefore);

    // Once the target caught up, the rows of deleted builds go (and their delivered deliveries).
    await rm(join(w.ctrl, 'hold'));
    await w.engine.settled();
    await w.store.deliveries.advanceCursor('slow', await w.store.read.lastOutboxId(), Date.now());
    // Build 1 (a's first) is deleted: its outbox rows 1 and 2 are candidates. A dead delivery
    // (someone may still retry it) keeps row 1; a delivered one goes with row 2.
    const dead = await w.store.deliveries.openDelivery(1, 'slow', Date.now());
    await w.store.deliveries.recordAttempt(
      dead.id,
      { state: 'dead', error: 'x' },
      null,
      Date.now(),
    );
    const done = await w.store.deliveries.openDelivery(2, 'slow', Date.now());
    await w.store.deliveries.recordAttempt(done.id, { state: 'delivered' }, null, Date.now());
    const later = await runRetention(
      retentionOpts(w, { reportTargets: ['slow'], now: () => Date.now() + 60_000 }),
    );
    expect(await w.store.read.getBuild(1)).toBeNull();
    expect(later.rows.outbox).toBeGreaterThan(0);
    expect(later.rows.deliveries).toBe(1);
    expect(await w.store.deliveries.getDelivery(dead.id)).not.toBeNull();
    expect(await w.store.deliveries.getDelivery(done.id)).toBeNull();
    expect((await w.store.outbox.outboxSince(0, 1))[0]?.id).toBe(1);
  });

  it('deletes in bounded batches and yields between them', async () => {
    w = await startWorld('{ builds: 1 }');
    for (let i = 0; i < 5; i++) await buildA(w, `c ${i}\n`);
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 0);
    const report = await runRetention(retentionOpts(w, { buildBatch: 1, historyBatch: 2 }));
    clearInterval(timer);
    expect(report.rows.builds).toBeGreaterThanOrEqual(8);
    // The event loop ran timers during the run: batches do not hold it.
    expect(ticks).toBeGreaterThan(0);
    // A run with a budget stops early; the next one finishes the work.
    for (let i = 0; i < 3; i++) await buildA(w, `d ${i}\n`);
    const partial = await runRetention(retentionOpts(w, { buildBatch: 1, maxBatches: 1 }));
    expect(partial.rows.builds).toBe(1);
    const rest = await runRetention(retentionOpts(w));
    expect(rest.rows.builds).toBeGreaterThan(0);
    expect(await buildIds(w, 'a')).toHaveLength(1);
  });
});
