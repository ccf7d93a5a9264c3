import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogLine } from '../../src/api/types.js';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import {
  agentToken,
  api,
  commit,
  eventually,
  git,
  push,
  startAgent,
  type AgentProcess,
} from '../agent/helpers.js';

/**
 * Issue 14: two replicas on one PostgreSQL database; a build on replica A's own slot and one on
 * an agent that talks to A only. Replica B (which ran neither, and has no shared file system)
 * follows both logs live, serves them complete and masked afterwards, serves their artifacts
 * byte for byte, and — restarted with a slot after A is gone — builds a downstream job on A's
 * output.
 */
const PG = await postgresAvailable('the shared logs and blobs test');
const SECRET = 'sh4red-l0gs-s3cret-value';
const BURST = 20_000;

/** The step of `build` and `remote`: slow lines (followed live), a burst, the secret, a blob. */
function steps(who: string, out: string): string {
  return [
    `for i in $(seq 1 30); do echo "${who} line $i"; sleep 0.05; done`,
    `seq 1 ${BURST} | sed 's/^/${who} burst /'`,
    `echo "${who} token ${SECRET}"`,
    `mkdir -p dist && head -c 300000 /dev/urandom > dist/${out} && echo "${who} done"`,
  ].join('; ');
}

interface Followed {
  readonly lines: LogLine[];
  readonly end: string | null;
  readonly firstLineAt: number | null;
}

/** Follows a build's log over SSE until `end` (bounded by `ms`). */
async function follow(url: string, buildId: number, ms = 60_000): Promise<Followed> {
  const res = await fetch(`${url}/api/builds/${buildId}/log?follow=1`, {
    signal: AbortSignal.timeout(ms),
  });
  if (!res.body) throw new Error('no body');
  const lines: LogLine[] = [];
  let firstLineAt: number | null = null;
  let buffer = '';
  const decoder = new TextDecoder();
  for await (const part of res.body as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(part, { stream: true });
    for (let cut = buffer.indexOf('\n\n'); cut !== -1; cut = buffer.indexOf('\n\n')) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      const data = /^data: (.*)$/m.exec(block)?.[1];
      if (event === 'line' && data !== undefined) {
        firstLineAt ??= Date.now();
        lines.push(JSON.parse(data) as LogLine);
      }
      if (event === 'end' && data !== undefined)
        return { lines, end: (JSON.parse(data) as { state: string }).state, firstLineAt };
    }
  }
  return { lines, end: null, firstLineAt };
}

/** The whole log as JSON pages, until `done`. */
async function pages(url: string, buildId: number): Promise<LogLine[]> {
  const lines: LogLine[] = [];
  let offset = 0;
  for (let i = 0; i < 1000; i++) {
    const res = await api(url, '', 'GET', `/api/builds/${buildId}/log?offset=${offset}`);
    const page = res.json as { lines: LogLine[]; nextOffset: number; done: boolean };
    lines.push(...page.lines);
    offset = page.nextOffset;
    if (page.done) return lines;
    if (page.lines.length === 0) await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the log never said done');
}

async function download(url: string, buildId: number, output: string) {
  const res = await fetch(`${url}/api/builds/${buildId}/artifacts/${output}`, {
    signal: AbortSignal.timeout(30_000),
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return {
    status: res.status,
    bytes,
    digest: res.headers.get('x-nightless-digest'),
    sha256: createHash('sha256').update(bytes).digest('hex'),
  };
}

describe.skipIf(!PG)('logs and blobs shared through PostgreSQL (two replicas, an agent)', () => {
  let root: string;
  let work: string;
  let gate: string;
  let schema: string;
  let database: string;
  let a: Nightless | null = null;
  let b: Nightless | null = null;
  let agent: AgentProcess | null = null;

  const start = (name: string, slots: number) =>
    startNightless({
      database,
      configPath: join(root, 'nightless.yaml'),
      dataDir: join(root, name),
      host: '127.0.0.1',
      port: 0,
      slots,
      logger: pino({ level: process.env.NL_TEST_LOG ?? 'silent' }),
      watchConfig: false,
      agentLeaseMs: 5000,
    });

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'shared-logs-'));
    work = join(root, 'app');
    gate = join(root, 'gate');
    git(root, 'init', '-q', '--initial-branch=main', work);
    git(root, 'init', '-q', '--initial-branch=main', gate);
    process.env.SHARED_LOGS_SECRET = SECRET;
    await writeFile(
      join(root, 'nightless.yaml'),
      `version: 1
pipeline: shared
sources:
  app: { git: ${work}, branch: main, fallback_poll: off }
  gate: { git: ${gate}, branch: main, fallback_poll: off }
jobs:
  build:
    inputs: [app]
    secrets: [SHARED_LOGS_SECRET]
    steps:
      - run: ${JSON.stringify(steps('local', 'a.bin'))}
    outputs: { dist: dist/a.bin }
  remote:
    inputs: [app]
    runs_on: [shared-logs]
    secrets: [SHARED_LOGS_SECRET]
    steps:
      - run: ${JSON.stringify(steps('remote', 'r.bin'))}
    outputs: { out: dist/r.bin }
  down:
    inputs: [build.dist, gate]
    steps:
      - run: sha256sum "$NIGHTLESS_INPUT_BUILD_DIST_FILES"
`,
    );
    schema = uniqueSchema();
    const admin = new pg.Client({ connectionString: TEST_PG_URL });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    database = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
  }, 60_000);

  afterAll(async () => {
    await agent?.stop();
    await a?.stop();
    await b?.stop();
    delete process.env.SHARED_LOGS_SECRET;
    if (schema) await dropSchema(schema);
    await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it(
    'replica B follows, serves and builds on what A and its agent made',
    { timeout: 240_000 },
    async () => {
      a = await start('a', 1);
      b = await start('b', 0);
      const adminOf = async (name: string) =>
        (await readFile(join(root, name, 'token'), 'utf8')).trim();
      const token = await agentToken(a.url, await adminOf('a'), 'pool');
      agent = startAgent({
        server: a.url,
        token,
        name: 'only-a',
        workDir: join(root, 'agent'),
        labels: 'shared-logs',
      });
      const sha = await commit(work, 'first');
      await push(a.url, await adminOf('a'), work, sha);
      const running = async (job: string) =>
        eventually(
          `${job} running`,
          async () => {
            const [x] = await b!.store.read.listBuilds({ job, limit: 1 });
            return x?.state === 'running' ? x.id : undefined;
          },
          60_000,
        );
      // B follows each from the moment it runs (no bus between the replicas: it polls the database).
      const followed = async (job: string) => {
        const id = await running(job);
        return [id, await follow(b!.url, id)] as const;
      };
      const [[local, liveLocal], [remote, liveRemote]] = await Promise.all([
        followed('build'),
        followed('remote'),
      ]);
      for (const [id, live, who] of [
        [local, liveLocal, 'local'],
        [remote, liveRemote, 'remote'],
      ] as const) {
        const build = await b.store.read.getBuild(id);
        expect(build?.state, who).toBe('passed');
        expect(live.end, who).toBe('passed');
        // Live: B showed lines before the build ended.
        expect(live.firstLineAt ?? Infinity, who).toBeLessThan(build?.finishedAt ?? 0);
        // Complete, in order, once each, and the same as A's own file.
        const texts = live.lines.map((l) => l.text);
        const mine = texts.filter((t) => t.startsWith(`${who} `));
        expect(mine, who).toEqual([
          ...Array.from({ length: 30 }, (_, i) => `${who} line ${i + 1}`),
          ...Array.from({ length: BURST }, (_, i) => `${who} burst ${i + 1}`),
          `${who} token ***`,
          `${who} done`,
        ]);
        const fromA = await pages(a.url, id);
        expect(await pages(b.url, id)).toEqual(fromA);
        expect(live.lines).toEqual(fromA);
        expect(JSON.stringify(fromA)).not.toContain(SECRET);
      }
      // Artifacts from B: byte-identical to A's, digest checked.
      for (const [id, output] of [
        [local, 'dist'],
        [remote, 'out'],
      ] as const) {
        const fromB = await download(b.url, id, output);
        const fromA = await download(a.url, id, output);
        expect(fromB.status).toBe(200);
        expect(fromB.bytes.length).toBe(300_000);
        expect(fromB.sha256).toBe(fromB.digest);
        expect(fromB.bytes.equals(fromA.bytes)).toBe(true);
      }
      const built = await b.store.read.getBuild(local);
      const digest = built?.outputs[0]?.files[0]?.digest ?? '';
      expect(
        await readFile(join(root, 'b', 'artifacts', 'sha256', digest.slice(0, 2), digest)),
      ).toHaveLength(300_000);

      // A goes away for good; B, restarted with a slot, builds `down` on A's output.
      await agent.stop();
      agent = null;
      await a.stop();
      a = null;
      await b.stop();
      b = await start('b', 1);
      await push(b.url, await adminOf('b'), gate, await commit(gate, 'gate'));
      const down = await eventually(
        'down finished',
        async () => {
          const [x] = await b!.store.read.listBuilds({ job: 'down', limit: 1 });
          return x && x.finishedAt !== null ? x : undefined;
        },
        60_000,
      );
      const downLog = (await pages(b.url, down.id)).map((l) => l.text).join('\n');
      expect(down.state, downLog).toBe('passed');
      expect(downLog).toContain(digest);
    },
  );
});
