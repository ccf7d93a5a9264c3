import { expect, it } from 'vitest';
import { artifactIndex, reads } from '../ports.js';
import { buildWithOutput, file, forEachStore } from './fixtures.js';

forEachStore('artifact index', (store) => {
  it('counts a blob as referenced while a build holds a row for it', async () => {
    expect(await artifactIndex(store()).referencedDigest(file(1))).toBe(false);
    await buildWithOutput(store(), 1);
    expect(await artifactIndex(store()).referencedDigest(file(1))).toBe(true);
  });

  it('answers which of many digests are referenced, and which builds still exist', async () => {
    const a = await buildWithOutput(store(), 1);
    const b = await buildWithOutput(store(), 2);
    const some = await artifactIndex(store()).referencedDigests([file(1), file(2), file(3)]);
    expect([...some].sort()).toEqual([file(1), file(2)].sort());
    expect(await artifactIndex(store()).referencedDigests([])).toEqual(new Set());
    const existing = await store().retention.existingBuilds([a, b, b + 100]);
    expect([...existing].sort()).toEqual([a, b].sort());
    await expect(store().retention.existingBuilds(new Array(501).fill(a))).rejects.toThrow(
      RangeError,
    );
  });

  it("prunes files of builds outside each job's newest N, keeping a head output's producer", async () => {
    const a = await buildWithOutput(store(), 1, { head: true });
    const b = await buildWithOutput(store(), 2);
    const c = await buildWithOutput(store(), 3);
    const l = await buildWithOutput(store(), 4, { job: 'lint' });
    expect(await artifactIndex(store()).pruneArtifacts(1)).toEqual({
      buildsPruned: 1,
      rowsDeleted: 1,
    });
    expect(await artifactIndex(store()).referencedDigest(file(2))).toBe(false);
    for (const n of [1, 3, 4])
      expect(await artifactIndex(store()).referencedDigest(file(n))).toBe(true);
    // The digest stays history; only the files are gone.
    expect((await reads(store()).getBuild(b))?.outputs).toEqual([
      { name: 'dist', digest: `out2`.padEnd(64, '0'), files: [] },
    ]);
    expect((await reads(store()).getBuild(a))?.outputs[0]?.files).toHaveLength(1);
    expect((await reads(store()).getBuild(c))?.outputs[0]?.files).toHaveLength(1);
    expect((await reads(store()).getBuild(l))?.outputs[0]?.files).toHaveLength(1);
    expect(await artifactIndex(store()).pruneArtifacts(1)).toEqual({
      buildsPruned: 0,
      rowsDeleted: 0,
    });
  });

  it('takes the window per job and refuses a negative one', async () => {
    await buildWithOutput(store(), 1);
    await buildWithOutput(store(), 2, { job: 'lint' });
    await buildWithOutput(store(), 3, { job: 'lint' });
    const keep = (job: string) => (job === 'lint' ? 1 : 5);
    expect(await artifactIndex(store()).pruneArtifacts(keep)).toMatchObject({ buildsPruned: 1 });
    expect(await artifactIndex(store()).referencedDigest(file(2))).toBe(false);
    await expect(artifactIndex(store()).pruneArtifacts(-1)).rejects.toThrow(RangeError);
  });
});
