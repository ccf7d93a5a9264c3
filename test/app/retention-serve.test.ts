import { readdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';

/**
 * Retention inside a real `startNightless` (SQLite, real steps, port 0): it runs at start, can be
 * run again, deletes builds with their log files, and `GET /metrics` (over a real socket) counts
 * what it freed.
 */

let root: string;
let nl: Nightless;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-retention-serve-'));
  await writeFile(
    join(root, 'nightless.yaml'),
    `pipeline: retention-test
retention: { builds: 1, age: 30d }
jobs:
  hello:
    steps:
      - run: echo "hello from a build that retention will delete"
`,
  );
  nl = await startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port: 0,
    slots: 1,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
});

afterAll(async () => {
  await nl.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

async function metric(line: string): Promise<number> {
  const res = await fetch(`${nl.url}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const found = text.split('\n').find((l) => l.startsWith(`${line} `));
  if (found === undefined) throw new Error(`no ${line} in /metrics`);
  return Number(found.slice(line.length + 1));
}

describe('retention in the server', { timeout: 60_000 }, () => {
  it('runs at start and on demand, deletes old builds and their logs, and counts it', async () => {
    for (let i = 0; i < 3; i++) {
      await nl.engine.trigger('hello', { force: true, by: 'test' });
      await nl.engine.settled();
    }
    const builds = await nl.store.read.listBuilds({ job: 'hello', limit: 10 });
    expect(builds.length).toBeGreaterThanOrEqual(3);
    expect(await readdir(join(root, 'data', 'logs'))).toHaveLength(builds.length);

    const report = await nl.runRetention();
    // Kept: the newest build (window of 1), which is also the newest passed one. (The run at
    // start normally finds nothing to do; the counter below adds both runs up.)
    expect(report?.rows.builds).toBeGreaterThan(0);
    expect(await readdir(join(root, 'data', 'logs'))).toEqual([`${builds[0]?.id}.log`]);
    expect(await nl.store.read.listBuilds({ job: 'hello', limit: 10 })).toHaveLength(1);

    // The run at start and this one.
    expect(await metric('nightless_retention_runs_total{result="ok"}')).toBe(2);
    expect(await metric('nightless_retention_deleted_rows_total{kind="builds"}')).toBe(
      builds.length - 1,
    );
    expect(
      await metric('nightless_retention_freed_bytes_total{kind="logs"}'),
    ).toBeGreaterThanOrEqual(report?.bytes.logs ?? Infinity);
    expect(report?.bytes.logs).toBeGreaterThan(0);
    expect(await metric('nightless_retention_runs_total{result="error"}')).toBe(0);
    // The API answers 404 for a deleted build.
    const gone = builds.at(-1)?.id;
    const res = await fetch(`${nl.url}/api/builds/${gone}`, {
      signal: AbortSignal.timeout(5000),
    });
    expect(res.status).toBe(404);
  });

  it('keeps the audit trail like builds: entries older than retention.age go', async () => {
    const day = 24 * 60 * 60 * 1000;
    const entry = (at: number) => ({
      at,
      actor: 'release-bot',
      address: '127.0.0.1',
      action: 'POST /api/jobs/:job/trigger',
      target: '{"job":"hello"}',
      status: 202,
      errorCode: null,
    });
    await nl.access.appendAudit(entry(Date.now() - 31 * day));
    await nl.access.appendAudit(entry(Date.now() - 29 * day));
    await nl.runRetention();
    const left = await nl.access.listAudit({ limit: 10 });
    expect(left.map((e) => Math.round((Date.now() - e.at) / day))).toEqual([29]);
  });
});
