import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { WORKSPACE_DEFAULTS, Workspaces } from '../../src/executor/workspace.js';
import { tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

describe('Workspaces', () => {
  it('removes on success, keeps on failure until expired, evicts oldest over the size cap', async () => {
    const root = join(await tmp.make(), 'workspaces');
    const ws = new Workspaces(root, {
      ...WORKSPACE_DEFAULTS,
      keepFailedMs: 60_000,
      maxBytes: 1500,
    });
    for (const id of [1, 2, 3, 4]) {
      const { dir } = await ws.create(id);
      await writeFile(join(dir, 'f'), 'x'.repeat(1000));
    }
    await ws.release(1, false);
    expect(existsSync(ws.pathOf(1))).toBe(false);
    await ws.release(2, true);
    await ws.release(3, true);
    // 4 is still running: never pruned.
    const now = Date.now();
    await utimes(ws.pathOf(2), new Date(now - 120_000), new Date(now - 120_000));
    await utimes(ws.pathOf(3), new Date(now - 1000), new Date(now - 1000));
    const r1 = await ws.prune(now);
    expect(r1.removed).toEqual([2]);
    expect(existsSync(ws.pathOf(3))).toBe(true);
    const { dir: d5 } = await ws.create(5);
    await writeFile(join(d5, 'f'), 'x'.repeat(1000));
    await ws.release(5, true);
    const r2 = await ws.prune(now);
    expect(r2.removed).toEqual([3]); // 3 + 5 exceed 1500 bytes: the older goes
    expect(existsSync(ws.pathOf(4))).toBe(true);
    expect(existsSync(ws.pathOf(5))).toBe(true);
  });

  it('removes trees with read-only directories (Go module cache)', async () => {
    const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
      ...WORKSPACE_DEFAULTS,
      keepFailedMs: 0,
    });
    const { dir } = await ws.create(9);
    await mkdir(join(dir, 'mod', 'pkg'), { recursive: true });
    await writeFile(join(dir, 'mod', 'pkg', 'a.go'), 'package a');
    await chmod(join(dir, 'mod', 'pkg'), 0o555);
    await chmod(join(dir, 'mod'), 0o555);
    await ws.release(9, false);
    expect(existsSync(dir)).toBe(false);
  });

  it('stopping waits for a warm tree clean that is running, and starts no other', async () => {
    const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
      ...WORKSPACE_DEFAULTS,
      keepFailedMs: 0,
    });
    for (const id of [1, 2]) {
      await ws.create(id);
      await writeFile(join(ws.pathOf(id), 'f'), 'x');
    }
    let finished = 0;
    let started = 0;
    const slowClean = async (): Promise<boolean> => {
      started++;
      await new Promise((r) => setTimeout(r, 400));
      finished++;
      return true;
    };
    await ws.release(1, false, 'a', slowClean);
    // The first clean starts after its delay (250 ms); the second is parked just before stopping.
    await new Promise((r) => setTimeout(r, 300));
    expect(started).toBe(1);
    await ws.release(2, false, 'b', slowClean);
    await ws.stop();
    expect(finished).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect(started).toBe(1);
    expect(existsSync(ws.warmPathOf('b'))).toBe(true);
  });

  describe('warm trees', () => {
    const DAY = 24 * 60 * 60 * 1000;
    const clean = (): Promise<boolean> => Promise.resolve(true);
    /** A passing build `id` of `job` whose tree (`bytes` in one file) is parked as the warm tree. */
    const pass = async (ws: Workspaces, id: number, job: string, bytes = 1000): Promise<void> => {
      const { dir } = await ws.create(id, job);
      await writeFile(join(dir, `f${id}`), 'x'.repeat(bytes));
      await ws.release(id, false, job, clean);
    };
    const age = async (path: string, ms: number): Promise<void> => {
      const t = new Date(Date.now() - ms);
      await utimes(path, t, t);
    };

    it('a warm tree idle longer than keepWarmMs is removed; the job then starts fresh', async () => {
      const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
        keepFailedMs: DAY,
        keepWarmMs: 7 * DAY,
      });
      await pass(ws, 1, 'gone');
      await pass(ws, 2, 'daily');
      await age(ws.warmPathOf('gone'), 8 * DAY); // a job renamed or removed a week ago
      await age(ws.warmPathOf('daily'), 1 * DAY);
      const r = await ws.prune();
      expect(r.removedWarm).toEqual(['gone']);
      expect(r.removed).toEqual([]);
      expect(r.freedBytes).toBe(1000);
      expect(existsSync(ws.warmPathOf('gone'))).toBe(false);
      expect(existsSync(ws.warmPathOf('daily'))).toBe(true);
      expect((await ws.create(3, 'gone')).reused).toBe(false);
      expect((await ws.create(4, 'daily')).reused).toBe(true);
    });

    it('parking stamps the time: a tree that passed again is not idle, whatever its age', async () => {
      const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
        keepFailedMs: DAY,
        keepWarmMs: DAY,
      });
      await pass(ws, 1, 'a');
      await age(ws.warmPathOf('a'), 2 * DAY);
      await pass(ws, 2, 'a'); // takes the old tree, passes, parks it again
      expect((await ws.prune()).removedWarm).toEqual([]);
      expect(existsSync(join(ws.warmPathOf('a'), 'f2'))).toBe(true);
    });

    it('the size cap counts warm trees with kept workspaces and removes the oldest of either', async () => {
      const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
        ...WORKSPACE_DEFAULTS,
        maxBytes: 2500,
      });
      for (const id of [1, 2]) {
        const { dir } = await ws.create(id);
        await writeFile(join(dir, 'f'), 'x'.repeat(1000));
        await ws.release(id, true); // failed: kept for inspection
      }
      await pass(ws, 3, 'a');
      await pass(ws, 4, 'b');
      await age(ws.pathOf(1), 4000);
      await age(ws.warmPathOf('a'), 3000);
      await age(ws.pathOf(2), 2000);
      await age(ws.warmPathOf('b'), 1000);
      // 4000 bytes over a 2500 cap: the two oldest go, a kept workspace and a warm tree.
      const r = await ws.prune();
      expect(r.removed).toEqual([1]);
      expect(r.removedWarm).toEqual(['a']);
      expect(r.freedBytes).toBe(2000);
      expect(existsSync(ws.pathOf(2))).toBe(true);
      expect(existsSync(ws.warmPathOf('b'))).toBe(true);
    });

    it('a warm tree that grew in its next build is measured again', async () => {
      const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
        ...WORKSPACE_DEFAULTS,
        maxBytes: 1500,
      });
      await pass(ws, 1, 'a');
      expect((await ws.prune()).removedWarm).toEqual([]); // 1000 bytes: fits, and remembered
      await pass(ws, 2, 'a'); // the same tree, 1000 bytes more
      expect((await ws.prune()).removedWarm).toEqual(['a']);
    });

    it('a build taking the tree while it is evicted gets all of it or an empty directory', async () => {
      const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
        ...WORKSPACE_DEFAULTS,
        keepWarmMs: 0,
      });
      // Enough files that removing them takes a while, made once and copied (one process).
      const FILES = 1000;
      const template = await tmp.make();
      execFileSync('sh', ['-c', `for i in $(seq ${FILES}); do : > f$i; done`], { cwd: template });
      const seen = { reused: 0, fresh: 0 };
      // 12 rounds, more (later and later) on a loaded machine until both outcomes were seen.
      const bothSeen = (): boolean => seen.reused > 0 && seen.fresh > 0;
      for (let round = 0; round < 40 && (round < 12 || !bothSeen()); round++) {
        const { dir } = await ws.create(1000 + round, 'a');
        execFileSync('cp', ['-a', `${template}/.`, dir]);
        await ws.release(1000 + round, false, 'a', clean);
        await age(ws.warmPathOf('a'), 1000);
        // The build arrives at a different point of the prune's removal each round.
        const taking = sleep(round * 8).then(() => ws.create(2000 + round, 'a'));
        const [, next] = await Promise.all([ws.prune(), taking]);
        expect((await readdir(next.dir)).length).toBe(next.reused ? FILES : 0);
        seen[next.reused ? 'reused' : 'fresh']++;
        await ws.release(2000 + round, false);
      }
      // Both happened: the build came before the removal, and during or after it.
      expect(bothSeen()).toBe(true);
    });

    it('startPruning prunes an idle machine and logs what it removed; stop ends it', async () => {
      const ws = new Workspaces(join(await tmp.make(), 'workspaces'), {
        keepFailedMs: 0,
        keepWarmMs: DAY,
      });
      const { dir } = await ws.create(1);
      await writeFile(join(dir, 'f'), 'x');
      await ws.release(1, true);
      await age(dir, 1000);
      const info: unknown[] = [];
      ws.startPruning(50, { info: (o) => info.push(o), warn: (o) => info.push(o) });
      for (let i = 0; i < 100 && info.length === 0; i++) await sleep(20);
      expect(info).toEqual([{ builds: [1], warmJobs: [], freedBytes: 1 }]);
      await ws.stop();
      const { dir: d2 } = await ws.create(2);
      await ws.release(2, true);
      await age(d2, 1000);
      await sleep(200);
      expect(existsSync(d2)).toBe(true);
    });

    it('discarding a warm tree, or a process dying while it removes one, leaves nothing behind', async () => {
      const root = join(await tmp.make(), 'workspaces');
      const ws = new Workspaces(root, WORKSPACE_DEFAULTS);
      await pass(ws, 1, 'a');
      await ws.discardWarm('a');
      expect(existsSync(ws.warmPathOf('a'))).toBe(false);
      // Half removed by a process that died: the next prune finishes it.
      await mkdir(join(root, '.evicting', 'dead', 'src'), { recursive: true });
      await writeFile(join(root, '.evicting', 'dead', 'src', 'f'), 'x');
      await ws.prune();
      expect((await readdir(root)).sort()).toEqual(['.evicting', 'warm']);
      expect(await readdir(join(root, '.evicting'))).toEqual([]);
    });
  });
});
