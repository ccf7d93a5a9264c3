import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

/**
 * Outbox ids stay in commit order only if every row goes through `store/sql/outbox-writes.ts`
 * (inserted last in its transaction, under the lock on PostgreSQL). A module inserting outbox rows
 * itself would bring back the lost-event race; this finds one before review does.
 */
describe('outbox rows have one writer', () => {
  it('inserts into the outbox table only in store/sql/outbox-writes.ts', () => {
    const writers = sources(src)
      .filter((f) => /insertInto\(\s*['"]outbox['"]/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(src, f));
    expect(writers).toEqual([join('store', 'sql', 'outbox-writes.ts')]);
  });
});
