import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { failureClassOfStored } from '../../src/core/failure-class.js';
import { failureClassMigration } from '../../src/store/migration-0008-failure-class.js';
import type { Database } from '../../src/store/schema.js';

/**
 * Migration 0008 fills in the class of builds that ended before it, in SQL: it must agree with
 * `failureClassOfStored`, the rule the code uses. A table shaped like `builds` before 0008.
 */
describe('migration 0008-failure-class', () => {
  let dir = '';
  afterEach(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));

  it('classifies old builds as the pure rule does', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-m8-'));
    const raw = new BetterSqlite3(join(dir, 'db.sqlite'));
    raw.exec(
      'create table builds (id integer primary key, state text not null, reason text, finished_at integer)',
    );
    const rows: Array<[string, string | null]> = [
      ['passed', null],
      ['skipped', 'identical to build #1'],
      ['queued', null],
      ['failed', 'step "test" exited with code 3'],
      ['failed', 'step "test" was killed by SIGKILL'],
      ['error', 'timeout: job "build" timed out after 1h'],
      ['error', 'step-timeout: step "x" timed out after 5m'],
      ['error', 'no-output-timeout: no output for 5m'],
      ['error', 'lost: the server stopped while the build was running'],
      ['error', 'checkout: git fetch of x failed: fatal: unable to access'],
      ['error', 'outputs: output "dist" matched no file'],
      ['error', 'publish: sftp files: authentication failed'],
      ['error', 'internal error: boom'],
      ['error', null],
      ['cancelled', 'cancelled by api'],
      ['superseded', 'superseded by build #9'],
    ];
    const insert = raw.prepare('insert into builds (state, reason) values (?, ?)');
    for (const [state, reason] of rows) insert.run(state, reason);
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: raw }) });
    try {
      await failureClassMigration(db);
      const got = raw
        .prepare('select state, reason, failure_class from builds order by id')
        .all() as Array<{
        state: string;
        reason: string | null;
        failure_class: string | null;
      }>;
      expect(got.map((r) => r.failure_class)).toEqual(
        rows.map(([state, reason]) => failureClassOfStored(state, reason)),
      );
    } finally {
      await db.destroy();
    }
  });
});
