import { existsSync } from 'node:fs';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { Engine } from '../../src/app/engine.js';
import { sharedFiles, type SharedFiles } from '../../src/app/shared-files.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';
import { parsePipeline } from '../../src/config/index.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { logPath } from '../../src/executor/log-reader.js';
import { runRetention } from '../../src/maintenance/retention.js';
import {
  openPostgresTestStore,
  postgresAvailable,
  type PostgresTestStore,
} from '../../src/testing/postgres-fixture.js';
import { tempDirs } from '../executor/helpers.js';

/**
 * Two replicas of one PostgreSQL installation: replica B runs the builds (its data directory
 * holds their logs and output blobs), replica A leads and runs retention. Retention deletes the
 * database's rows and copies and A's own files; B's copies are B's to prune.
 */
const PG = await postgresAvailable('the local copies prune tests');
const logger = pino({ level: 'silent' });
const tmp = tempDirs();
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await tmp.cleanup();
});

/** As if written `ms` ago: the prune's grace period (1 h) is over for them. */
async function age(dir: string, ms: number): Promise<void> {
  const then = new Date(Date.now() - ms);
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), then, then);
}

async function twoReplicas() {
  const pg: PostgresTestStore = await openPostgresTestStore();
  cleanups.push(() => pg.dispose());
  const store = pg.store;
  const [dirA, dirB, ctrl] = [await tmp.make(), await tmp.make(), await tmp.make()];
  const filesB: SharedFiles = sharedFiles(store, dirB, logger);
  cleanups.push(() => filesB.stop());
  const executor = new LocalExecutor({
    dataDir: dirB,
    artifacts: filesB.artifacts,
    killGraceMs: 200,
    ...filesB.replica,
  });
  const pipeline = parsePipeline(
    `
retention: { builds: 1 }
jobs:
  a:
    env: { CTRL: ${JSON.stringify(ctrl)} }
    steps:
      - run: echo "building $(cat "$CTRL/content")" && mkdir -p dist && cp "$CTRL/content" dist/out.txt
    outputs:
      dist: dist/out.txt
`,
    join(ctrl, 'nightless.yaml'),
    { env: {} },
  );
  const engine = await Engine.start({
    store,
    bus: new MemoryBus(),
    executor,
    pipeline,
    logger,
    slots: 1,
  });
  cleanups.push(() => engine.stop());
  await engine.settled();
  const build = async (content: string): Promise<number> => {
    await writeFile(join(ctrl, 'content'), content);
    const { build } = await engine.trigger('a', { force: true, by: 'test' });
    if (build === null) throw new Error('nothing queued');
    await engine.settled();
    return build.id;
  };
  // The leader's retention: the database's rows and copies, and A's own (empty) data directory.
  const leaderRetention = () =>
    runRetention({
      store,
      deliveries: store.deliveries,
      artifacts: new ContentStore(dirA, { shared: store.blobs }),
      pipeline,
      reportTargets: [],
      logFile: (id) => logPath(dirA, id),
      sharedLogs: store.logs,
      onBuildsDeleted: (builds) => engine.forgetBuilds(builds),
      logger,
      blobMinAgeMs: 0,
    });
  return { store, dirB, filesB, build, leaderRetention };
}

describe.skipIf(!PG)('each replica prunes its local copies [postgresql]', () => {
  it('removes logs and blobs retention deleted from the database, keeps the rest and what is read', async () => {
    const r = await twoReplicas();
    const ids = [await r.build('one\n'), await r.build('two\n'), await r.build('three\n')];
    await r.filesB.logShipper?.flush();
    const blobOf = async (id: number) => {
      const digest = (await r.store.read.artifact(id, 'dist'))[0]?.digest;
      if (digest === undefined) throw new Error(`build ${id} stored no file`);
      return digest;
    };
    const digests = await Promise.all(ids.map(blobOf));
    const logB = (id: number) => existsSync(logPath(r.dirB, id));
    const blobB = (d: string) => existsSync(r.filesB.artifacts.pathOf(d));

    const report = await r.leaderRetention();
    // The two older of ours, and the build at start (failed: no content yet).
    expect(report.rows.builds).toBe(3);
    // The leader's retention cannot reach B's data directory: B still has every copy.
    expect(ids.map(logB)).toEqual([true, true, true]);
    expect(digests.map(blobB)).toEqual([true, true, true]);

    // Within the grace period nothing goes (a blob stored or fetched just now).
    const fresh = await r.filesB.pruneLocalCopies?.();
    expect(fresh?.logs.files).toBe(0);
    expect(fresh?.blobs.files).toBe(0);

    await age(r.dirB, 2 * 60 * 60 * 1000);
    // A download of the first blob is under way on B (its stream is open, not yet read).
    const reading = r.filesB.artifacts.openRead(digests[0] as string);
    const pruned = await r.filesB.pruneLocalCopies?.();
    expect(pruned?.logs.files).toBe(3);
    expect(ids.map(logB)).toEqual([false, false, true]);
    expect(digests.map(blobB)).toEqual([true, false, true]);
    const chunks: Buffer[] = [];
    for await (const c of reading) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('one\n');

    const later = await r.filesB.pruneLocalCopies?.();
    expect(later?.blobs.files).toBe(1);
    expect(digests.map(blobB)).toEqual([false, false, true]);
    // The kept build still serves its log and output on B.
    expect(
      (await r.filesB.readLog(r.dirB, ids[2] as number, 0, 4096)).lines.map((l) => l.text),
    ).toContain('building three');
  });
});
