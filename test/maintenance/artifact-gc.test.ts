import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { parsePipeline } from '../../src/config/index.js';
import { runArtifactGc } from '../../src/maintenance/artifact-gc.js';
import { Engine } from '../../src/app/engine.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { collectOutputs } from '../../src/executor/outputs.js';
import type { Executor, RunResult, RunSpec } from '../../src/executor/port.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const logger = pino({ level: 'silent' });

/**
 * Job `a` writes `$CTRL/content` to `dist/out.txt` (and fails while `$CTRL/fail` exists); job `b`
 * (when `consumer`) consumes `a.dist`, and its first build waits while `$CTRL/hold` exists.
 */
function pipelineText(ctrl: string, consumer: boolean): string {
  const a = `
jobs:
  a:
    env: { CTRL: ${JSON.stringify(ctrl)} }
    steps:
      - run: mkdir -p dist && cat "$CTRL/content" > dist/out.txt && test ! -e "$CTRL/fail"
    outputs:
      dist: dist/out.txt
`;
  const b = `
  b:
    inputs: [a.dist]
    env: { CTRL: ${JSON.stringify(ctrl)} }
    steps:
      - run: |
          if mkdir "$CTRL/b-first" 2>/dev/null; then
            while [ -e "$CTRL/hold" ]; do sleep 0.02; done
          fi
`;
  return consumer ? a + b : a;
}

/**
 * Does what the pipeline's steps do, in-process: several times faster than bash on a busy machine.
 * The output still goes through the real `collectOutputs` into the real content store.
 */
class InProcessExecutor implements Executor {
  constructor(
    private readonly ctrl: string,
    private readonly dir: string,
    private readonly artifacts: ContentStore,
  ) {}

  async run(spec: RunSpec): Promise<RunResult> {
    const none = { outputs: [], coverage: null, warnings: [] };
    if (spec.job.name === 'b') {
      const first = await mkdir(join(this.ctrl, 'b-first')).then(
        () => true,
        () => false,
      );
      while (first && existsSync(join(this.ctrl, 'hold')))
        await new Promise((r) => setTimeout(r, 20));
      return { state: 'passed', ...none };
    }
    const content = await readFile(join(this.ctrl, 'content')).catch(() => null);
    if (content === null || existsSync(join(this.ctrl, 'fail')))
      return {
        state: 'failed',
        step: 'make',
        exitCode: 1,
        reason: 'step "make" exited with code 1',
        ...none,
      };
    const ws = join(this.dir, 'ws', String(spec.buildId));
    await mkdir(join(ws, 'dist'), { recursive: true });
    await writeFile(join(ws, 'dist', 'out.txt'), content);
    const outputs = await collectOutputs(ws, spec.job.outputs, this.artifacts);
    await rm(ws, { recursive: true });
    return { state: 'passed', ...none, outputs };
  }
}

interface World {
  readonly dir: string;
  readonly ctrl: string;
  readonly store: Store;
  readonly artifacts: ContentStore;
  readonly engine: Engine;
}

async function startWorld(
  slots: number,
  opts: { consumer?: boolean; bash?: boolean } = {},
): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'nightless-gc-'));
  const ctrl = join(dir, 'ctrl');
  execFileSync('mkdir', ['-p', ctrl]);
  const store = await openSqliteStore({ path: join(dir, 'state.db') });
  const artifacts = new ContentStore(dir);
  const executor =
    opts.bash === true
      ? new LocalExecutor({ dataDir: dir, artifacts, killGraceMs: 200 })
      : new InProcessExecutor(ctrl, dir, artifacts);
  const pipeline = parsePipeline(
    pipelineText(ctrl, opts.consumer ?? false),
    join(dir, 'nightless.yaml'),
    {
      env: {},
    },
  );
  const engine = await Engine.start({
    store,
    bus: new MemoryBus(),
    executor,
    pipeline,
    logger,
    slots,
  });
  // A new job definition is built once at start: without `$CTRL/content` that build fails.
  if (slots > 0) await engine.settled();
  return { dir, ctrl, store, artifacts, engine };
}

async function stopWorld(w: World): Promise<void> {
  await w.engine.stop();
  await w.store.close();
  execFileSync('chmod', ['-R', 'u+w', w.dir]);
  await rm(w.dir, { recursive: true, force: true, maxRetries: 5 });
}

/** Force-builds `a` with `content` and waits for that build to finish; returns its id. */
async function buildA(w: World, content: string): Promise<number> {
  await writeFile(join(w.ctrl, 'content'), content);
  const { build } = await w.engine.trigger('a', { force: true, by: 'test' });
  if (build === null) throw new Error('nothing queued');
  for (let i = 0; i < 2000; i++) {
    const b = await w.store.read.getBuild(build.id);
    if (b !== null && b.state !== 'queued' && b.state !== 'running') return build.id;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`build ${build.id} did not finish`);
}

/** The blob digest of build's one output file, and the output's digest (the version of `a.dist`). */
async function digestsOf(w: World, buildId: number): Promise<{ blob: string; version: string }> {
  const out = (await w.store.read.getBuild(buildId))?.outputs[0];
  const blob = out?.files[0]?.digest;
  if (out === undefined || blob === undefined)
    throw new Error(`build ${buildId} has no output file`);
  return { blob, version: out.digest };
}

const gc = (w: World) =>
  runArtifactGc({
    store: w.store.artifacts,
    artifacts: w.artifacts,
    keepBuildsPerJob: 20,
    logger,
    minAgeMs: 0,
  });

// 25+ builds per test through the real engine and stores; the first test with real bash steps.
describe('artifact retention and garbage collection', { timeout: 120_000 }, () => {
  let w: World | null = null;
  afterEach(async () => {
    if (w) await stopWorld(w);
    w = null;
  });

  it('stores identical output of 25 builds once, and keeps it after pruning to 20 builds', async () => {
    w = await startWorld(1, { bash: true }); // end to end: real steps, real output collection
    const content = 'same bytes every time\n'.repeat(1000);
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) ids.push(await buildA(w, content));
    const { blob: digest } = await digestsOf(w, ids[0] ?? 0);
    for (const id of ids) expect((await digestsOf(w, id)).blob).toBe(digest);
    expect(await w.artifacts.totalBytes()).toBe(content.length);

    await w.engine.settled();
    const r = await gc(w);
    // The 5 oldest fall out of the window; the blob is still referenced by the 20 newest (the
    // newest of which is the head's producer downstream jobs read).
    expect(r).toMatchObject({ buildsPruned: 5, rowsDeleted: 5, bytesFreed: 0 });
    expect(await w.artifacts.has(digest)).toBe(true);
    expect(await w.store.artifacts.referencedDigest(digest)).toBe(true);
    const pruned = await w.store.read.getBuild(ids[1] ?? 0);
    expect(pruned?.outputs).toEqual([{ name: 'dist', digest: expect.any(String), files: [] }]);
    expect((await w.store.read.getBuild(ids[5] ?? 0))?.outputs[0]?.files).toHaveLength(1);
    // Idempotent: a second run finds nothing more to do.
    expect(await gc(w)).toMatchObject({ buildsPruned: 0, rowsDeleted: 0, bytesFreed: 0 });
  });

  it('removes the blobs of distinct outputs older than the window', async () => {
    w = await startWorld(1);
    const ids: number[] = [];
    for (let i = 0; i < 25; i++) ids.push(await buildA(w, `content ${i}\n`));
    const outs = await Promise.all(ids.map((id) => digestsOf(w as World, id)));
    const digests = outs.map((o) => o.blob);
    expect(new Set(digests).size).toBe(25);
    const before = await w.artifacts.totalBytes();

    await w.engine.settled();
    const r = await gc(w);
    expect(r.buildsPruned).toBe(5);
    expect(r.bytesFreed).toBe(
      digests.slice(0, 5).reduce((n, _d, i) => n + `content ${i}\n`.length, 0),
    );
    expect(await w.artifacts.totalBytes()).toBe(before - r.bytesFreed);
    for (const [i, d] of digests.entries()) expect(await w.artifacts.has(d)).toBe(i >= 5);
    expect(await w.store.queue.outputFiles('a.dist', outs[24]?.version ?? '')).toHaveLength(1);
    expect(await w.store.queue.outputFiles('a.dist', outs[0]?.version ?? '')).toEqual([]);
  });

  it('keeps the producer of the head version of an output even when it is old', async () => {
    w = await startWorld(1);
    const head = await buildA(w, 'the head\n');
    const headDigests = await digestsOf(w, head);
    await writeFile(join(w.ctrl, 'fail'), '');
    for (let i = 0; i < 22; i++) await buildA(w, `never stored ${i}\n`);
    // 22 failed builds, and the one of the new job definition at start.
    expect((await w.store.read.listBuilds({ job: 'a', state: 'failed', limit: 50 })).length).toBe(
      23,
    );
    await w.engine.settled();

    const r = await gc(w);
    expect(r).toMatchObject({ buildsPruned: 0, bytesFreed: 0 });
    expect(await w.artifacts.has(headDigests.blob)).toBe(true);
    expect(await w.store.queue.outputFiles('a.dist', headDigests.version)).toHaveLength(1);
  });

  it('keeps the producer of an input a running build uses, until that build finished', async () => {
    w = await startWorld(2, { consumer: true });
    await writeFile(join(w.ctrl, 'hold'), '');
    const first = await buildA(w, 'input of the held build\n');
    const firstDigests = await digestsOf(w, first);
    // Wait until b's first build runs (it holds while `hold` exists).
    for (
      let i = 0;
      i < 2000 &&
      (await w.store.read.listBuilds({ job: 'b', state: 'running', limit: 1 })).length === 0;
      i++
    )
      await new Promise((r) => setTimeout(r, 5));
    const [held] = await w.store.read.listBuilds({ job: 'b', state: 'running', limit: 1 });
    expect(held?.inputs[0]?.version).toBe(firstDigests.version);
    for (let i = 0; i < 21; i++) await buildA(w, `newer ${i}\n`);

    const r1 = await gc(w);
    expect(r1.buildsPruned).toBe(1); // the second build of a; the first is protected
    expect(await w.artifacts.has(firstDigests.blob)).toBe(true);
    expect(await w.store.queue.outputFiles('a.dist', firstDigests.version)).toHaveLength(1);

    await rm(join(w.ctrl, 'hold'));
    await w.engine.settled();
    const r2 = await gc(w);
    expect(r2.buildsPruned).toBe(1);
    expect(await w.artifacts.has(firstDigests.blob)).toBe(false);
  });

  it('refuses a negative window', async () => {
    w = await startWorld(0);
    await expect(w.store.artifacts.pruneArtifacts(-1)).rejects.toThrow(/keepBuildsPerJob/);
  });
});
