import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { git } from '../../src/testing/git.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import { root, waitFor, type BuildsBody } from './serve-helpers.js';

/**
 * `nightless serve --database postgres://…` as a user runs it: a real process (from source through
 * tsx), a real git repository, real PostgreSQL, and the `finished` CloudEvents received by a real
 * webhook endpoint — one per build, however the outbox relay runs.
 */
const PG = await postgresAvailable('the serve-on-PostgreSQL end-to-end test');
const TSX = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(root, 'src/cli/main.ts');
const TOKEN = 'test-token-pg-e2e';

describe.skipIf(!PG)('nightless serve --database (real PostgreSQL, real process)', () => {
  let dir: string;
  let work: string;
  let schema: string;
  let receiver: Server;
  const events: Array<{ type: string; subject: string; id: string }> = [];
  let child: ChildProcess | undefined;
  let stderr = '';

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-pg-e2e-'));
    const repo = join(dir, 'app.git');
    work = join(dir, 'work');
    git(dir, 'init', '-q', '--bare', '--initial-branch=main', repo);
    git(dir, 'clone', '-q', repo, work);
    await writeFile(join(work, 'hello.txt'), 'one\n');
    git(work, 'add', '.');
    git(work, 'commit', '-qm', 'one');
    git(work, 'push', '-q', 'origin', 'HEAD:main');
    schema = uniqueSchema();
    const admin = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    receiver = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        const e = JSON.parse(body) as { type: string; subject: string; id: string };
        events.push({ type: e.type, subject: e.subject, id: e.id });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const port = (receiver.address() as AddressInfo).port;
    await writeFile(
      join(dir, 'nightless.yaml'),
      `sources:
  app:
    git: ${JSON.stringify(repo)}
    branch: main
jobs:
  build:
    inputs: [app]
    steps:
      - run: cat hello.txt
reports:
  - webhook:
      url: http://127.0.0.1:${port}/events
      secret: e2e-secret
      allow_private: true
`,
    );
  }, 60_000);

  afterAll(async () => {
    child?.kill('SIGKILL');
    await new Promise<void>((r) => receiver.close(() => r()));
    await dropSchema(schema);
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('builds a push, reports `finished` once per build, and keeps its state in PostgreSQL', async () => {
    const dataDir = join(dir, 'data');
    // The schema through the URL, as a deployment sharing one database would name its own.
    const url = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    const proc = spawn(
      process.execPath,
      ['--import', TSX, MAIN, 'serve', '--port', '0', '-c', 'nightless.yaml', '-d', dataDir],
      {
        cwd: dir,
        env: { ...process.env, NIGHTLESS_TOKEN: TOKEN, NIGHTLESS_DATABASE_URL: url },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    child = proc;
    let stdout = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<number | string | null>((r) =>
      proc.on('exit', (code, signal) => r(code ?? signal)),
    );
    const base = await waitFor(
      () => /at (http:\/\/\S+)/.exec(stdout)?.[1],
      60_000,
      () => `no URL printed; stderr: ${stderr}`,
    );
    const builds = async () => {
      const res = await fetch(`${base}/api/builds`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: AbortSignal.timeout(5000),
      });
      return ((await res.json()) as BuildsBody).builds;
    };
    // The head known at start builds first.
    await waitFor(
      async () => (await builds()).some((b) => b.state === 'passed'),
      60_000,
      () => stderr,
    );
    await writeFile(join(work, 'hello.txt'), 'two\n');
    git(work, 'commit', '-qam', 'two');
    git(work, 'push', '-q', 'origin', 'HEAD:main');
    const polled = await fetch(`${base}/api/sources/poll`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}` },
      signal: AbortSignal.timeout(15_000),
    });
    expect(polled.status).toBe(200);
    const done = await waitFor(
      async () => {
        const all = await builds();
        return all.length === 2 && all.every((b) => b.state === 'passed') && all;
      },
      60_000,
      () => stderr,
    );
    const finished = () => events.filter((e) => e.type === 'dev.nightless.build.finished');
    await waitFor(
      () => finished().length >= 2,
      30_000,
      () => JSON.stringify(events),
    );
    // Whatever is late arrives within this; a duplicate would show up here.
    await new Promise((r) => setTimeout(r, 1500));
    expect(
      finished()
        .map((e) => e.subject)
        .sort(),
    ).toEqual(done.map((b) => `build/${b.id}`).sort());
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);

    // The state is in PostgreSQL, not in a SQLite file in the data directory.
    expect(existsSync(join(dataDir, 'nightless.db'))).toBe(false);
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(
        `select count(*) as n from ${schema}.builds where state = 'passed'`,
      );
      expect(rows[0]?.n).toBe('2');
    } finally {
      await client.end();
    }
    proc.kill('SIGTERM');
    expect(
      await Promise.race([exited, new Promise((r) => setTimeout(() => r('hung'), 20_000))]),
    ).toBe(0);
  }, 240_000);
});
