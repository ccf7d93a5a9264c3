import { expect, it } from 'vitest';
import { forEachStore } from './fixtures.js';

const b = (s: string) => Buffer.from(s, 'utf8');

forEachStore('shared logs', (store) => {
  it('keeps a log by offset: a chunk resent at its offset is stored once', async () => {
    const logs = store().logs;
    expect(await logs.logSize(7)).toBe(0);
    expect((await logs.readLog(7, 0, 1024)).length).toBe(0);
    await logs.appendLog(7, 0, b('one\n'));
    await logs.appendLog(7, 4, b('two\n'));
    await logs.appendLog(7, 4, b('two\n')); // the agent's resend after a lost answer
    await logs.appendLog(8, 0, b('other build\n'));
    expect(await logs.logSize(7)).toBe(8);
    expect((await logs.readLog(7, 0, 1024)).toString()).toBe('one\ntwo\n');
    expect((await logs.readLog(7, 2, 1024)).toString()).toBe('e\ntwo\n');
    expect((await logs.readLog(7, 8, 1024)).length).toBe(0);
  });

  it('reads overlapping chunks of two writers once, and stops at a hole', async () => {
    const logs = store().logs;
    await logs.appendLog(1, 0, b('abcdef'));
    await logs.appendLog(1, 3, b('defghi')); // another replica's copy, other boundaries
    await logs.appendLog(1, 20, b('later'));
    expect((await logs.readLog(1, 0, 1024)).toString()).toBe('abcdefghi');
    expect((await logs.readLog(1, 5, 1024)).toString()).toBe('fghi');
    expect(await logs.logSize(1)).toBe(25);
  });

  it('reads about maxBytes, in whole chunks', async () => {
    const logs = store().logs;
    for (let i = 0; i < 10; i++) await logs.appendLog(2, i * 4, b(`${i}${i}${i}\n`));
    const first = await logs.readLog(2, 0, 8);
    expect(first.toString()).toBe('000\n111\n');
    expect((await logs.readLog(2, 8, 8)).toString()).toBe('222\n333\n');
  });

  it('deletes the logs of given builds only', async () => {
    const logs = store().logs;
    await logs.appendLog(1, 0, b('12345'));
    await logs.appendLog(1, 5, b('678'));
    await logs.appendLog(2, 0, b('kept'));
    expect(await logs.deleteLogs([1, 99])).toBe(8);
    expect(await logs.logSize(1)).toBe(0);
    expect((await logs.readLog(2, 0, 100)).toString()).toBe('kept');
    expect(await logs.deleteLogs([])).toBe(0);
  });
});

forEachStore('shared blobs', (store) => {
  const digest = 'ab'.repeat(32);

  it('shows a blob only once sealed, chunk by chunk, deduplicated by digest', async () => {
    const blobs = store().blobs;
    await blobs.putBlobChunk(digest, 0, b('hello '));
    expect(await blobs.blobInfo(digest)).toBeNull();
    await blobs.putBlobChunk(digest, 1, b('world'));
    await blobs.putBlobChunk(digest, 1, b('world')); // a second replica storing the same blob
    await blobs.sealBlob({ digest, size: 11, chunks: 2 }, 1000);
    await blobs.sealBlob({ digest, size: 11, chunks: 2 }, 2000);
    expect(await blobs.blobInfo(digest)).toEqual({ digest, size: 11, chunks: 2 });
    expect((await blobs.readBlobChunk(digest, 0))?.toString()).toBe('hello ');
    expect((await blobs.readBlobChunk(digest, 1))?.toString()).toBe('world');
    expect(await blobs.readBlobChunk(digest, 2)).toBeNull();
  });

  it('lists sealed blobs stored before a time, page by page, and deletes them', async () => {
    const blobs = store().blobs;
    const d = (n: number) => String(n).repeat(64);
    for (const n of [1, 2, 3]) {
      await blobs.putBlobChunk(d(n), 0, b(`blob ${n}`));
      await blobs.sealBlob({ digest: d(n), size: 6, chunks: 1 }, n * 1000);
    }
    expect((await blobs.listBlobs(2500, '', 10)).map((x) => x.digest)).toEqual([d(1), d(2)]);
    expect((await blobs.listBlobs(9999, d(1), 1)).map((x) => x.digest)).toEqual([d(2)]);
    expect(await blobs.deleteBlob(d(2), 2500)).toBe(6);
    expect(await blobs.deleteBlob(d(2), 2500)).toBe(0);
    // Stored again (a put that deduplicated it) after the caller listed it: kept.
    await blobs.sealBlob({ digest: d(1), size: 6, chunks: 1 }, 5000);
    expect(await blobs.deleteBlob(d(1), 2500)).toBe(0);
    expect(await blobs.blobInfo(d(1))).not.toBeNull();
    expect(await blobs.blobInfo(d(2))).toBeNull();
    expect(await blobs.readBlobChunk(d(2), 0)).toBeNull();
    expect(await blobs.blobInfo(d(3))).not.toBeNull();
  });

  it('seals only a blob whose chunks are all stored, and deletes row and chunks together', async () => {
    const blobs = store().blobs;
    await blobs.putBlobChunk(digest, 0, b('hello '));
    expect(await blobs.sealBlob({ digest, size: 11, chunks: 2 }, 1000)).toBe(false);
    expect(await blobs.blobInfo(digest)).toBeNull();
    await blobs.putBlobChunk(digest, 1, b('world'));
    expect(await blobs.sealBlob({ digest, size: 11, chunks: 2 }, 1000)).toBe(true);
    expect(await blobs.deleteBlob(digest, 2000)).toBe(11);
    // A writer that saw the blob before the collector deleted it: the refresh must not bring
    // back a row whose chunks are gone.
    expect(await blobs.sealBlob({ digest, size: 11, chunks: 2 }, 3000)).toBe(false);
    expect(await blobs.blobInfo(digest)).toBeNull();
    expect(await blobs.readBlobChunk(digest, 0)).toBeNull();
  });
});
