import { execFileSync } from 'node:child_process';
import type { Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import { AMQP_URL, rabbitUnavailable, skipOrFail } from '../bus/rabbit.js';
import {
  agentToken,
  api,
  eventually,
  git,
  startAgent,
  startEventReceiver,
  startServe,
  type AgentProcess,
  type ReceivedEvent,
  type ServeProcess,
} from './helpers.js';

/**
 * Issue 14's scaled-out shape on one machine, every part a real process: two `nightless serve`
 * replicas (PostgreSQL store, RabbitMQ bus, `--slots 0`: they run no builds themselves) and three
 * `nightless agent` processes with their own work directories, each given both replicas. 200
 * pushes over 20 jobs, sent to the replicas in turn: every version is built exactly once, by an
 * agent, nothing is lost, and each build is started once and reported `finished` once — in the
 * outbox and as CloudEvents received by a webhook.
 */
const rabbit = await rabbitUnavailable();
if (rabbit !== null) skipOrFail('the scale-out test', rabbit);
const PG = rabbit === null && (await postgresAvailable('the scale-out test'));

const ADMIN = 'scale-out-admin-token';
const JOBS = 20;
const PUSHES_PER_JOB = 10;

/** 20 branches of 10 commits each, written by one `git fast-import`; the SHAs in push order. */
function commits(work: string): Array<{ branch: string; sha: string; parent: string | null }> {
  let stream = '';
  let mark = 0;
  const marks: Array<{ branch: string; mark: number; parent: number | null }> = [];
  for (let j = 0; j < JOBS; j++) {
    let parent: number | null = null;
    for (let k = 0; k < PUSHES_PER_JOB; k++) {
      const m = ++mark;
      const msg = `b${j} commit ${k}\n`;
      const content = `${j}.${k}\n`;
      stream += `commit refs/heads/b${j}\nmark :${m}\ncommitter t <t@example.com> ${1_700_000_000 + m} +0000\n`;
      stream += `data ${Buffer.byteLength(msg)}\n${msg}`;
      if (parent !== null) stream += `from :${parent}\n`;
      stream += `M 100644 inline f\ndata ${Buffer.byteLength(content)}\n${content}\n`;
      marks.push({ branch: `b${j}`, mark: m, parent });
      parent = m;
    }
  }
  const marksFile = join(work, '..', 'marks');
  execFileSync('git', ['fast-import', '--quiet', `--export-marks=${marksFile}`], {
    cwd: work,
    input: stream,
  });
  const shaOf = new Map<number, string>();
  for (const line of execFileSync('cat', [marksFile], { encoding: 'utf8' }).trim().split('\n')) {
    const [m, sha] = line.split(' ');
    shaOf.set(Number(m?.slice(1)), sha ?? '');
  }
  const all = marks.map((c) => ({
    branch: c.branch,
    sha: shaOf.get(c.mark) ?? '',
    parent: c.parent === null ? null : (shaOf.get(c.parent) ?? null),
  }));
  // Push order: round k pushes commit k of every branch.
  return Array.from({ length: PUSHES_PER_JOB }, (_, k) =>
    all.filter((_, i) => i % PUSHES_PER_JOB === k),
  ).flat();
}

describe.skipIf(!PG)('scale-out: two replicas, three agents (PostgreSQL, RabbitMQ)', () => {
  let dir: string;
  let work: string;
  let schema: string;
  let receiver: Server;
  const events: ReceivedEvent[] = [];
  const replicas: ServeProcess[] = [];
  const agents: AgentProcess[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-scale-out-'));
    work = join(dir, 'app');
    git(dir, 'init', '-q', '--initial-branch=main', work);
    schema = uniqueSchema();
    const admin = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
    await admin.connect();
    await admin.query(`create schema ${schema}`);
    await admin.end();
    const received = await startEventReceiver(events);
    receiver = received.server;
    const port = received.port;
    const sources = Array.from(
      { length: JOBS },
      (_, j) =>
        `  s${j}:\n    git: ${JSON.stringify(work)}\n    branch: b${j}\n    fallback_poll: off\n`,
    ).join('');
    const jobs = Array.from(
      { length: JOBS },
      (_, j) =>
        `  j${j}:\n    inputs: [s${j}]\n    supersede: false\n    steps:\n      - run: cat f\n`,
    ).join('');
    await writeFile(
      join(dir, 'nightless.yaml'),
      `version: 1\npipeline: scale-out\nsources:\n${sources}jobs:\n${jobs}reports:\n  - webhook:\n      url: http://127.0.0.1:${port}/events\n      secret: scale-out-secret\n      allow_private: true\n`,
    );
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all(replicas.map((r) => r.stop()));
    await new Promise<void>((r) => receiver?.close(() => r()));
    if (schema) await dropSchema(schema);
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }, 60_000);

  it('200 pushes over 20 jobs: each version built once on an agent, finished reported once', async () => {
    const started = Date.now();
    const database = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
    // One replica first, so the schema is migrated once before the second one looks.
    for (const name of ['replica-a', 'replica-b']) {
      const r = startServe({ dir, name, database, bus: AMQP_URL, admin: ADMIN, slots: 0 });
      replicas.push(r);
      await r.listening();
    }
    const [a, b] = replicas as [ServeProcess, ServeProcess];
    // A token issued on one replica works on the other: tokens live in the database.
    const token = await agentToken(a.url, ADMIN, 'pool');
    for (const [i, servers] of [
      [a.url, b.url],
      [b.url, a.url],
      [a.url, b.url],
    ].entries())
      agents.push(
        startAgent({
          server: servers,
          token,
          name: `agent-${i}`,
          workDir: join(dir, `agent-${i}`),
          slots: 2,
        }),
      );

    const upAt = Date.now();
    const pushes = commits(work);
    expect(pushes).toHaveLength(JOBS * PUSHES_PER_JOB);
    // Five lanes of pushes at once, each lane its branches' commits in order (a branch's pushes
    // must arrive in order, as a forge sends them); consecutive pushes go to alternate replicas.
    const LANES = 5;
    await Promise.all(
      Array.from({ length: LANES }, async (_, lane) => {
        for (const [i, p] of pushes.entries()) {
          if (Number(p.branch.slice(1)) % LANES !== lane) continue;
          const to = i % 2 === 0 ? a : b;
          const res = await api(to.url, ADMIN, 'POST', '/hooks/git', {
            repo: work,
            updates: [
              { old: p.parent ?? '0'.repeat(40), new: p.sha, ref: `refs/heads/${p.branch}` },
            ],
          });
          expect(res.status, res.text).toBe(202);
        }
      }),
    );
    const pushedAt = Date.now();
    let builtAt = 0;
    const db = new pg.Client({ connectionString: database, connectionTimeoutMillis: 5000 });
    await db.connect();
    try {
      type Row = {
        id: string;
        job: string;
        state: string;
        fingerprint: string;
        worker: string | null;
      };
      const builds = await eventually(
        'every pushed version to be built',
        async () => {
          const { rows } = await db.query<Row>(
            'select id, job, state, fingerprint, worker from builds order by id',
          );
          const done = rows.filter((r) => r.state !== 'queued' && r.state !== 'running');
          return done.length >= pushes.length && done.length === rows.length ? rows : undefined;
        },
        150_000,
      ).catch(async (err: unknown) => {
        const { rows } = await db.query('select state, count(*) from builds group by state');
        throw new Error(
          `${(err as Error).message}: ${JSON.stringify(rows)}\n${a.output()}\n${b.output()}\n${agents.map((x) => x.output()).join('\n')}`,
        );
      });
      // Exactly the pushed versions, each once, every one passed on an agent.
      builtAt = Date.now();
      expect(builds.filter((r) => r.state !== 'passed')).toEqual([]);
      expect(builds).toHaveLength(pushes.length);
      expect(new Set(builds.map((r) => r.fingerprint)).size).toBe(builds.length);
      const { rows: inputs } = await db.query<{ version: string }>(
        'select version from build_inputs',
      );
      expect(inputs.map((r) => r.version).sort()).toEqual(pushes.map((p) => p.sha).sort());
      const workers = new Set(builds.map((r) => r.worker));
      expect([...workers].every((w) => /^agent-[0-2]$/.test(w ?? ''))).toBe(true);
      // Each build started once and finished once in the outbox (none doubled, none lost).
      const { rows: outbox } = await db.query<{ build_id: string; type: string; n: string }>(
        `select build_id, type, count(*) as n from outbox
          where type in ('started', 'finished') group by build_id, type`,
      );
      expect(outbox.filter((r) => r.n !== '1')).toEqual([]);
      expect(outbox.filter((r) => r.type === 'started')).toHaveLength(builds.length);
      expect(outbox.filter((r) => r.type === 'finished')).toHaveLength(builds.length);

      // The CloudEvents reached the webhook: one `finished` (by id) per build, none for others.
      const finishedIds = () => {
        const bySubject = new Map<string, Set<string>>();
        for (const e of events.filter((x) => x.type === 'dev.nightless.build.finished'))
          bySubject.set(e.subject, (bySubject.get(e.subject) ?? new Set()).add(e.id));
        return bySubject;
      };
      await eventually(
        'a finished CloudEvent for every build',
        () => Promise.resolve(finishedIds().size >= builds.length ? true : undefined),
        30_000,
      );
      // Anything late or doubled would arrive within this.
      await new Promise((r) => setTimeout(r, 1500));
      const seen = finishedIds();
      expect([...seen.keys()].sort()).toEqual(builds.map((r) => `${r.job}/${r.id}`).sort());
      expect([...seen.values()].filter((ids) => ids.size !== 1)).toEqual([]);
    } finally {
      await db.end();
    }
    // Both replicas list the three agents (any replica answers for all of them).
    for (const r of replicas) {
      const listed = (await api(r.url, ADMIN, 'GET', '/api/agents')).json as {
        agents: Array<{ name: string }>;
      };
      expect(listed.agents.map((x) => x.name).sort()).toEqual(['agent-0', 'agent-1', 'agent-2']);
    }
    console.info(
      `scale-out: start ${upAt - started} ms, 200 pushes ${pushedAt - upAt} ms, ` +
        `all built ${builtAt - pushedAt} ms after the last push, total ${Date.now() - started} ms`,
    );
  }, 240_000);
});
