import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Decision } from '../../src/core/scheduler/index.js';
import type { Store } from '../../src/store/ports.js';
import { openPostgresStore, quoteIdent } from '../../src/store/postgres/open-postgres-store.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const WORKER = fileURLToPath(new URL('./concurrency/store-worker.ts', import.meta.url));
/** Competing processes: one connection each to a SQLite file, three each to PostgreSQL. */
const PROCESSES = 4;

/** Where the racing processes meet: `db` is what `store-worker.ts` takes as DB. */
interface Backend {
  readonly name: string;
  create(): Promise<{ db: string; cleanup: () => Promise<void> }>;
  open(db: string): Promise<Store>;
  /** The inbox rows as stored, read past the store. */
  events(db: string): Promise<Array<{ deliveryId: string; id: number }>>;
}

const sqlite: Backend = {
  name: 'SQLite file, one connection each',
  create() {
    const dir = mkdtempSync(join(tmpdir(), 'nightless-race-'));
    const cleanup = () =>
      Promise.resolve(rmSync(dir, { recursive: true, force: true, maxRetries: 5 }));
    return Promise.resolve({ db: join(dir, 'state.db'), cleanup });
  },
  open: (path) => openSqliteStore({ path }),
  events(path) {
    const raw = new BetterSqlite3(path, { readonly: true });
    try {
      return Promise.resolve(
        raw.prepare('SELECT delivery_id AS deliveryId, id FROM events ORDER BY id').all() as Array<{
          deliveryId: string;
          id: number;
        }>,
      );
    } finally {
      raw.close();
    }
  },
};

const postgres: Backend = {
  name: 'PostgreSQL, FOR UPDATE SKIP LOCKED, three connections each',
  create() {
    const schema = uniqueSchema();
    return Promise.resolve({ db: `pg:${schema}`, cleanup: () => dropSchema(schema) });
  },
  open: (db) => openPostgresStore({ url: TEST_PG_URL, schema: db.slice(3) }),
  async events(db) {
    const client = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
    await client.connect();
    try {
      const { rows } = await client.query<{ deliveryId: string; id: string }>(
        `SELECT delivery_id AS "deliveryId", id FROM ${quoteIdent(db.slice(3))}.events ORDER BY id`,
      );
      return rows.map((r) => ({ deliveryId: r.deliveryId, id: Number(r.id) }));
    } finally {
      await client.end();
    }
  },
};

const backends = [
  sqlite,
  ...((await postgresAvailable('the concurrent-writer tests')) ? [postgres] : []),
];

interface Worker {
  readonly ready: Promise<void>;
  readonly result: Promise<unknown>;
  go(): void;
}

/** `store-worker.ts ARGS` as a real process; `result` is the JSON line it prints at the end. */
function startWorker(args: readonly string[]): Worker {
  const child = spawn(process.execPath, ['--import', TSX, WORKER, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.startsWith('ready\n')) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const result = new Promise<unknown>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      markReady();
      const last = stdout.trim().split('\n').at(-1) ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last));
      else reject(new Error(`store-worker ${args.join(' ')} exited ${code}: ${stderr}`));
    });
  });
  return { ready, result, go: () => child.stdin.end('go\n') };
}

/** Starts every worker, waits until all have opened the store, then releases them at once. */
async function race(argsOf: (i: number) => string[]): Promise<unknown[]> {
  const workers = Array.from({ length: PROCESSES }, (_, i) => startWorker(argsOf(i)));
  await Promise.all(workers.map((w) => w.ready));
  for (const w of workers) w.go();
  return Promise.all(workers.map((w) => w.result));
}

describe.each(backends)('store: concurrent writers in separate processes ($name)', (backend) => {
  let path: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ db: path, cleanup } = await backend.create());
    const store = await backend.open(path);
    await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
    await store.close();
  });
  afterEach(() => cleanup());

  it('starts each queued build exactly once, and every one of them', async () => {
    const builds = 120;
    const store = await backend.open(path);
    await store.inbox.appendEvent({
      kind: 'source',
      source: 'app',
      version: 'v1',
      ref: 'main',
      origin: 'webhook',
      deliveryId: null,
      changedPaths: null,
      producedBy: null,
      receivedAt: 1000,
    });
    const [event] = await store.scheduler.pendingEvents(1);
    if (!event) throw new Error('no event');
    // Each build its own concurrency group: all of them are claimable at once.
    const decisions: Decision[] = Array.from({ length: builds }, (_, i) => ({
      kind: 'queue-build',
      job: `job${i}`,
      source: 'app',
      version: 'v1',
      fingerprint: `fp${i}`,
      definitionHash: 'def',
      inputs: [{ source: 'app', version: 'v1', origin: 'webhook', eventId: event.id, ref: 'main' }],
      cause: { kind: 'version', source: 'app', version: 'v1', eventId: event.id },
      forced: false,
      supersedes: [],
      cancels: [],
      concurrency: { group: `job${i}@main`, limit: 1, supersede: true },
      rule: 'built',
      detail: 'build queued',
    }));
    const { queued } = await store.scheduler.applyDecisions(event, decisions, 1000);
    expect(queued).toHaveLength(builds);
    await store.close();

    const results = (await race((i) => ['claim', path, `w${i}`, String(builds)])) as Array<{
      claims: Array<{ id: number; worker: string }>;
    }>;

    const claims = results.flatMap((r) => r.claims);
    expect(claims.map((c) => c.id).sort((a, b) => a - b)).toEqual(
      queued.map((b) => b.id).sort((a, b) => a - b),
    );
    // What the database says agrees: every build running, for the process that claimed it, with
    // one `started` outbox row.
    const reopened = await backend.open(path);
    try {
      const rows = await reopened.read.listBuilds({ limit: builds * 2 });
      expect(rows.every((b) => b.state === 'running')).toBe(true);
      for (const c of claims) expect((await reopened.read.getBuild(c.id))?.worker).toBe(c.worker);
      const started = (await reopened.outbox.outboxSince(0, builds * 4)).filter(
        (o) => o.type === 'started',
      );
      expect(started.map((o) => o.buildId).sort((a, b) => a - b)).toEqual(
        claims.map((c) => c.id).sort((a, b) => a - b),
      );
    } finally {
      await reopened.close();
    }
  }, 120_000);

  it('stores one inbox row per delivery id when several processes append the same deliveries', async () => {
    const ids = Array.from({ length: 60 }, (_, i) => `github:${1000 + i}`);
    // Each process in its own order, so that they meet on different ids.
    const orderOf = (i: number) => [...ids.slice(i * 15), ...ids.slice(0, i * 15)];
    const results = (await race((i) => ['append', path, `w${i}`, orderOf(i).join(',')])) as Array<{
      appended: Array<{ deliveryId: string; id: number; redelivery: boolean }>;
    }>;

    const rows = await backend.events(path);
    expect(rows.map((r) => r.deliveryId).sort()).toEqual([...ids].sort());
    const stored = new Map(rows.map((r) => [r.deliveryId, r.id]));
    for (const deliveryId of ids) {
      const answers = results.map((r) => r.appended.find((a) => a.deliveryId === deliveryId));
      // Every process was told the one stored event's id; exactly one of them stored it.
      expect(answers.map((a) => a?.id)).toEqual(answers.map(() => stored.get(deliveryId)));
      expect(answers.filter((a) => a?.redelivery === false)).toHaveLength(1);
    }
  }, 120_000);
});
