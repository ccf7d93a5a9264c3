import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./wal-stream-child.ts', import.meta.url));
const hasStrace = await run('strace', ['-V']).then(
  () => true,
  () => false,
);
if (!hasStrace) {
  const msg = 'strace is not installed: the WAL sync test is skipped (.ci/run installs it)';
  if (process.env.CI === 'true') throw new Error(msg);
  console.warn(`SKIPPED: ${msg}`);
}

function sourceEvents(n: number) {
  return Array.from({ length: n }, (_, i) => ({
    kind: 'source' as const,
    source: 'app',
    version: `v${i}`.padEnd(40, 'x'),
    ref: 'main',
    origin: 'webhook' as const,
    deliveryId: `d${i}`,
    changedPaths: null,
    producedBy: null,
    receivedAt: i,
  }));
}

/** This process's open descriptors of `path` (Linux: /proc/self/fd). */
async function descriptorsOf(path: string): Promise<number> {
  const fds = await readdir('/proc/self/fd');
  const targets = await Promise.all(
    fds.map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => '')),
  );
  return targets.filter((t) => t === path).length;
}

/**
 * Runs the child (`wal-stream-child.ts`) on a fresh database under `strace -f -qq` with `flags`;
 * returns the database's path, the child's stdout and the trace's lines. Cleans up after itself.
 */
async function tracedChild(flags: string[], childArgs: string[]) {
  const dir = await mkdtemp(join(tmpdir(), 'nightless-wal-'));
  const path = join(dir, 'nightless.db');
  const trace = join(dir, 'strace.txt');
  try {
    const { stdout } = await run(
      'strace',
      ['-f', '-qq', ...flags, '-o', trace, '--', process.execPath, '--import', 'tsx', child].concat(
        path,
        ...childArgs,
      ),
      { timeout: 60_000 },
    );
    return { path, stdout, lines: (await readFile(trace, 'utf8')).split('\n') };
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

describe('WAL checkpoints', () => {
  it('are made by the background worker, not left to grow in the WAL', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-wal-'));
    const path = join(dir, 'nightless.db');
    const store = await openSqliteStore({ path });
    try {
      const before = (await stat(path)).size;
      await store.inbox.appendEvents(sourceEvents(3000));
      // The rows reach the main database file only through a checkpoint, and soon: a worker
      // that waited seconds would sync seconds of writes at once, stalling the next commits.
      const deadline = Date.now() + 2_000;
      while ((await stat(path)).size <= before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect((await stat(path)).size).toBeGreaterThan(before);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  it('checkpoints writes that come after a quiet spell as promptly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-wal-'));
    const path = join(dir, 'nightless.db');
    const store = await openSqliteStore({ path });
    try {
      await store.inbox.appendEvents(sourceEvents(10));
      // Long enough for the worker to find the WAL unchanged and go to sleep.
      await new Promise((r) => setTimeout(r, 800));
      const before = (await stat(path)).size;
      await store.inbox.appendEvents(sourceEvents(3000));
      const deadline = Date.now() + 2_000;
      while ((await stat(path)).size <= before && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 100));
      expect((await stat(path)).size).toBeGreaterThan(before);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  // An idle server's worker used to look at the WAL twice a second, forever.
  it.runIf(hasStrace)(
    'leaves the WAL alone while nothing is written',
    async () => {
      const { path, stdout, lines } = await tracedChild(
        ['-ttt', '-e', 'trace=statx,newfstatat,stat,lstat'],
        ['50', '2500'],
      );
      const idleFrom = Number(/^idle-from (\d+)$/m.exec(stdout)?.[1]) / 1000;
      expect(idleFrom).toBeGreaterThan(0);
      const walStats = lines
        .filter((l) => l.includes(`${path}-wal"`))
        .map((l) => Number(l.split(/\s+/)[1]));
      // The last commit's checkpoint and a look before sleeping come within ~0.3 s.
      const late = walStats.filter((t) => t > idleFrom + 0.7 && t < idleFrom + 2.3);
      expect(walStats.length).toBeGreaterThan(0);
      expect(late).toEqual([]);
    },
    90_000,
  );

  it('leaves no descriptor of the database open once the store is closed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-wal-'));
    const path = join(dir, 'nightless.db');
    try {
      for (let round = 0; round < 3; round++) {
        const store = await openSqliteStore({ path });
        await store.inbox.appendEvents(sourceEvents(10));
        expect(await descriptorsOf(path)).toBeGreaterThan(0);
        await store.close();
        expect(await descriptorsOf(path)).toBe(0);
      }
    } finally {
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  // Under a steady stream SQLite itself syncs the database file only in the main thread's
  // backstop checkpoint, which then wrote seconds of copied pages inside a commit.
  it.runIf(hasStrace)(
    'syncs the database file from the worker while commits stream in',
    async () => {
      const { path, stdout, lines } = await tracedChild(
        ['-y', '-e', 'trace=fdatasync,fsync'],
        ['1500'],
      );
      const mainThread = stdout.trim().split('\n').pop()!;
      const dbSyncs = lines.filter((l) => l.includes(`<${path}>`)).map((l) => l.split(/\s+/)[0]);
      const byWorker = dbSyncs.filter((tid) => tid !== mainThread);
      // 1.5 s of commits, a tick every 100 ms: ~15; a worker that left it to SQLite, ≤ 2.
      expect(byWorker.length).toBeGreaterThanOrEqual(5);
    },
    90_000,
  );
});
