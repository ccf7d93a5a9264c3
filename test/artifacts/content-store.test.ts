import { createHash } from 'node:crypto';
import { readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { tempDirs } from '../executor/helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');

describe('ContentStore', () => {
  it('stores a file once under sha256/ab/<digest>, read-only', async () => {
    const dir = await tmp.make();
    const store = new ContentStore(dir);
    await writeFile(join(dir, 'a.txt'), 'hello');
    await writeFile(join(dir, 'b.txt'), 'hello');
    const a = await store.put(join(dir, 'a.txt'));
    expect(a).toEqual({ digest: sha('hello'), size: 5 });
    const path = store.pathOf(a.digest);
    expect(path).toBe(join(dir, 'artifacts', 'sha256', a.digest.slice(0, 2), a.digest));
    const first = await stat(path);
    expect(first.mode & 0o777).toBe(0o444);
    const b = await store.put(join(dir, 'b.txt'));
    expect(b.digest).toBe(a.digest);
    expect((await stat(path)).ino).toBe(first.ino); // not written again
    expect(await store.has(a.digest)).toBe(true);
    expect(await store.has(sha('other'))).toBe(false);
    expect(await readFile(path, 'utf8')).toBe('hello');
    const chunks: Buffer[] = [];
    for await (const c of store.openRead(a.digest)) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe('hello');
  });

  it('rejects digests that are not 64 hex chars', async () => {
    const store = new ContentStore(await tmp.make());
    expect(() => store.pathOf('../../etc/passwd')).toThrow(/invalid sha256/);
    expect(() => store.pathOf('A'.repeat(64))).toThrow(/invalid sha256/);
    await expect(store.has('abc')).rejects.toThrow(/invalid sha256/);
  });

  it('materializes by hard link, lists, totals and removes', async () => {
    const dir = await tmp.make();
    const store = new ContentStore(dir);
    await writeFile(join(dir, 'x'), 'x-content');
    await writeFile(join(dir, 'y'), 'y-content!');
    const x = await store.put(join(dir, 'x'));
    const y = await store.put(join(dir, 'y'));
    await store.materialize(x.digest, join(dir, 'ws', 'deep', 'x'));
    const linked = await stat(join(dir, 'ws', 'deep', 'x'));
    expect(linked.ino).toBe((await stat(store.pathOf(x.digest))).ino);
    const listed: string[] = [];
    for await (const d of store.list()) listed.push(d);
    expect(listed.sort()).toEqual([x.digest, y.digest].sort());
    expect(await store.totalBytes()).toBe(19);
    await store.remove(x.digest);
    await store.remove(x.digest); // idempotent
    expect(await store.has(x.digest)).toBe(false);
  });

  it('collects unreferenced blobs older than the grace period', async () => {
    const dir = await tmp.make();
    const store = new ContentStore(dir);
    await writeFile(join(dir, 'keep'), 'keep me');
    await writeFile(join(dir, 'drop'), 'drop me!!');
    await writeFile(join(dir, 'young'), 'young');
    const keep = await store.put(join(dir, 'keep'));
    const drop = await store.put(join(dir, 'drop'));
    const young = await store.put(join(dir, 'young'));
    const old = new Date(Date.now() - 2 * 3600_000);
    await utimes(store.pathOf(keep.digest), old, old);
    await utimes(store.pathOf(drop.digest), old, old);
    const freed = await store.collectGarbage(async (d) => Promise.resolve(d === keep.digest));
    expect(freed).toBe(drop.size);
    expect(await store.has(keep.digest)).toBe(true);
    expect(await store.has(drop.digest)).toBe(false);
    expect(await store.has(young.digest)).toBe(true); // too young to collect
    expect(
      await store.collectGarbage(() => false, { minAgeMs: 0, now: Date.now() + 1000 }),
    ).toBeGreaterThan(0);
    expect(await store.totalBytes()).toBe(0);
  });
});
