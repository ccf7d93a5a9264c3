import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

// Port behaviour is checked on every adapter by test/conformance/store/; this file holds what
// only the SQLite adapter promises.
describe('sqlite store', () => {
  it('creates the file in WAL mode with foreign keys, and migrating twice is a no-op', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-store-'));
    const path = join(dir, 'sub', 'nightless.db');
    const first = await openSqliteStore({ path });
    await first.meta.set('x', '1');
    await first.close();
    const second = await openSqliteStore({ path });
    expect(await second.meta.get('x')).toBe('1');
    await second.close();
    const raw = new Database(path);
    expect(raw.pragma('journal_mode', { simple: true })).toBe('wal');
    const tables = raw
      .prepare("select name from sqlite_master where type = 'table' order by name")
      .pluck()
      .all();
    expect(tables).toEqual(
      expect.arrayContaining([
        'artifacts',
        'build_inputs',
        'build_outputs',
        'builds',
        'decisions',
        'events',
        'heads',
        'meta',
        'outbox',
        'sources',
        'versions',
      ]),
    );
    raw.close();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });
});
