import { existsSync } from 'node:fs';
import { chmod, mkdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Workspaces } from '../../src/executor/workspace.js';
import { tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

describe('Workspaces', () => {
  it('removes on success, keeps on failure until expired, evicts oldest over the size cap', async () => {
    const root = join(await tmp.make(), 'workspaces');
    const ws = new Workspaces(root, { keepFailedMs: 60_000, maxBytes: 1500 });
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
    const ws = new Workspaces(join(await tmp.make(), 'workspaces'), { keepFailedMs: 0 });
    const { dir } = await ws.create(9);
    await mkdir(join(dir, 'mod', 'pkg'), { recursive: true });
    await writeFile(join(dir, 'mod', 'pkg', 'a.go'), 'package a');
    await chmod(join(dir, 'mod', 'pkg'), 0o555);
    await chmod(join(dir, 'mod'), 0o555);
    await ws.release(9, false);
    expect(existsSync(dir)).toBe(false);
  });

  it('stopping waits for a warm tree clean that is running, and starts no other', async () => {
    const ws = new Workspaces(join(await tmp.make(), 'workspaces'), { keepFailedMs: 0 });
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
});
