import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Pipeline } from '../../src/core/pipeline.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { http, job, pipeline } from '../../src/testing/pipeline-builder.js';

/** Five sources, ten jobs (two per source), every build kept: each push queues two builds. */
export const SOURCES = ['s0', 's1', 's2', 's3', 's4'] as const;

export function replicaPipeline(): Pipeline {
  return pipeline({
    name: 'replicas',
    sources: Object.fromEntries(SOURCES.map((s) => [s, http(`https://files.example.com/${s}`)])),
    jobs: Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [
        `j${i}`,
        job({ inputs: [SOURCES[i % SOURCES.length] ?? 's0'], supersede: false, concurrency: 10 }),
      ]),
    ),
  });
}

/** This tree's PostgreSQL store; `NIGHTLESS_TEST_POSTGRES_STORE` names another (a sibling branch). */
const POSTGRES_STORE =
  process.env.NIGHTLESS_TEST_POSTGRES_STORE ??
  join(import.meta.dirname, '..', '..', 'src', 'store', 'postgres', 'open-postgres-store.ts');

/** Whether this tree has the PostgreSQL store (the scale-out e2e runs on it once it does). */
export const hasPostgresStore = existsSync(POSTGRES_STORE);

/**
 * Opens the store a URL names: `sqlite:PATH`, or `postgres://…` through `src/store/postgres/open-postgres-store.ts` (`openPostgresStore({ url,
 * schema })`; the schema comes from the URL's `schema` parameter).
 */
export async function openStoreByUrl(url: string): Promise<Store> {
  if (url.startsWith('sqlite:')) return openSqliteStore({ path: url.slice('sqlite:'.length) });
  if (!hasPostgresStore) throw new Error('this tree has no PostgreSQL store yet');
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  const mod = (await import(pathToFileURL(POSTGRES_STORE).href)) as {
    openPostgresStore(opts: { url: string; schema?: string }): Promise<Store>;
  };
  return mod.openPostgresStore({ url: u.toString(), ...(schema ? { schema } : {}) });
}
