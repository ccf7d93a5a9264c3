import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import type { SharedBlobs } from '../../src/artifacts/shared-blobs.js';
import { quoteIdent } from '../../src/store/postgres/open-postgres-store.js';
import {
  openPostgresTestStore,
  postgresAvailable,
  TEST_PG_URL,
  type PostgresTestStore,
} from '../../src/testing/postgres-fixture.js';
import { tempDirs } from '../executor/helpers.js';

/**
 * A garbage collection (one replica) deleting a blob while another replica stores the same blob
 * again, or reads it, on real PostgreSQL: two stores on one schema (two connection pools), the
 * interleaving forced by running the collector's step from inside the writer's calls, or by a
 * third connection that holds the collector's transaction open. The blob must end present with
 * its bytes, or absent — never a row whose chunks are gone ("damaged").
 */
const PG = await postgresAvailable('the shared blob GC race tests');
const tmp = tempDirs();
const opened: PostgresTestStore[] = [];
afterEach(async () => {
  // The second store shares the first one's schema: closed first, the schema dropped last.
  for (const o of opened.splice(0).reverse()) await o.dispose();
  await tmp.cleanup();
});

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** Old enough for a collection with cutoff {@link CUTOFF} to take it. */
const OLD = 1000;
const CUTOFF = 3000;
const LATER = 5000;

/** Two replicas' stores on one database schema; the blob stored long ago by the first. */
async function twoReplicas(content: Buffer) {
  const a = await openPostgresTestStore();
  const b = await openPostgresTestStore({ schema: a.schema });
  opened.push(a, { ...b, dispose: () => b.store.close() });
  const dirA = await tmp.make();
  const file = join(dirA, 'out.bin');
  await writeFile(file, content);
  await new ContentStore(dirA, { shared: a.store.blobs, now: () => OLD }).put(file);
  return { a: a.store, b: b.store, dirA, file, digest: sha(content), schema: a.schema };
}

/** The port's methods as a plain object, so a test can replace one. */
function portOf(blobs: SharedBlobs): SharedBlobs {
  return {
    blobInfo: (d) => blobs.blobInfo(d),
    putBlobChunk: (d, seq, bytes) => blobs.putBlobChunk(d, seq, bytes),
    sealBlob: (info, now) => blobs.sealBlob(info, now),
    readBlobChunk: (d, seq) => blobs.readBlobChunk(d, seq),
    listBlobs: (before, after, limit) => blobs.listBlobs(before, after, limit),
    deleteBlob: (d, before) => blobs.deleteBlob(d, before),
  };
}

/** What a third replica with an empty data directory gets for the blob. */
async function readFromThirdReplica(shared: SharedBlobs, digest: string) {
  const c = new ContentStore(await tmp.make(), { shared });
  if (!(await c.fetch(digest))) return null;
  return readFile(c.pathOf(digest));
}

describe.skipIf(!PG)('shared blobs: garbage collection racing a re-store [postgresql]', () => {
  it('a blob re-stored while the collector deletes it between the check and the seal stays whole', async () => {
    // 2.5 chunks: the re-upload is several rows.
    const content = randomBytes(2.5 * 1024 * 1024);
    const r = await twoReplicas(content);
    let collected = 0;
    const racing: SharedBlobs = {
      ...portOf(r.a.blobs),
      blobInfo: async (digest) => {
        const info = await r.a.blobs.blobInfo(digest);
        // The writer saw the old blob; the collector on the other replica deletes it now.
        if (collected === 0) collected = await r.b.blobs.deleteBlob(digest, CUTOFF);
        return info;
      },
    };
    const writer = new ContentStore(r.dirA, { shared: racing, now: () => LATER });
    await writer.put(r.file);
    expect(collected).toBe(content.length);
    expect(await readFromThirdReplica(r.b.blobs, r.digest)).toEqual(content);
  });

  it('a seal waiting on the collector’s open transaction stores the chunks again', async () => {
    const content = randomBytes(300_000);
    const r = await twoReplicas(content);
    const gc = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
    await gc.connect();
    try {
      await gc.query(`set search_path to ${quoteIdent(r.schema)}`);
      await gc.query(`set statement_timeout = 10000`);
      // The collector's transaction, as `deleteBlob` runs it: the row, then (later) the chunks.
      await gc.query('begin');
      await gc.query('delete from blobs where digest = $1 and stored_at < $2', [r.digest, CUTOFF]);
      const writer = new ContentStore(r.dirA, { shared: r.a.blobs, now: () => LATER });
      const put = writer.put(r.file);
      put.catch(() => undefined);
      await untilBlocking(gc);
      await gc.query('delete from blob_chunks where digest = $1', [r.digest]);
      await gc.query('commit');
      await put;
    } finally {
      await gc.end().catch(() => undefined);
    }
    expect(await readFromThirdReplica(r.b.blobs, r.digest)).toEqual(content);
  });

  it('a reader whose blob is collected midway finds it absent, not damaged', async () => {
    const content = randomBytes(100_000);
    const r = await twoReplicas(content);
    let collected = 0;
    const racing: SharedBlobs = {
      ...portOf(r.b.blobs),
      blobInfo: async (digest) => {
        const info = await r.b.blobs.blobInfo(digest);
        if (collected === 0) collected = await r.a.blobs.deleteBlob(digest, CUTOFF);
        return info;
      },
    };
    expect(await readFromThirdReplica(racing, r.digest)).toBeNull();
    expect(collected).toBe(content.length);
  });
});

/** Resolves once another session waits for a lock `client`'s transaction holds (at most 10 s). */
async function untilBlocking(client: pg.Client): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const { rows } = await client.query<{ n: string }>(
      `select count(*) as n from pg_stat_activity where pg_backend_pid() = any(pg_blocking_pids(pid))`,
    );
    if (Number(rows[0]?.n ?? 0) > 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no statement waited for the collector's lock within 10 s`);
}
