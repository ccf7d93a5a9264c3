import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Nightless } from '../../src/app/start-nightless.js';
import {
  adminToken,
  agentToken,
  api,
  commit,
  eventually,
  git,
  push,
  startAgent,
  startServer,
  type AgentProcess,
} from './helpers.js';

/**
 * A build on a real `nightless agent` process against a real server (SQLite, HTTP): runs_on
 * waits for an agent with the labels, the log is live while the step runs, outputs reach the
 * server's store, `finished` is written once, and an agent token can do nothing else.
 */
let root: string;
let work: string;
let nl: Nightless;
let admin: string;
let token: string;
const agents: AgentProcess[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-agent-'));
  work = join(root, 'app');
  git(root, 'init', '-q', '--initial-branch=main', work);
  await writeFile(
    join(root, 'nightless.yaml'),
    `version: 1
pipeline: agents
sources:
  app:
    git: ${work}
    branch: main
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    runs_on: [linux, arm64]
    steps:
      - run: echo "first line from $NIGHTLESS_BUILD_ID"; sleep 2; mkdir -p dist; cat f > dist/out.txt; echo done
    outputs: { dist: dist/out.txt }
`,
  );
  // Reads need a token here, so the agent token's 403s on reads are visible.
  nl = await startServer(root, 0, 3000, true);
  admin = await adminToken(root);
  token = await agentToken(nl.url, admin, 'pool');
}, 60_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

describe('a build on an agent', { timeout: 120_000 }, () => {
  it('waits for an agent with the labels, then runs there end to end', async () => {
    const sha = await commit(work, 'hello from the agent');
    await push(nl.url, admin, work, sha);
    const queued = await eventually('a queued build', async () => {
      const [b] = await nl.store.read.listBuilds({ job: 'build', limit: 1 });
      return b?.state === 'queued' ? b : undefined;
    });
    // Local slots never take it, and the API says what it waits for.
    await new Promise((r) => setTimeout(r, 500));
    expect((await nl.store.read.getBuild(queued.id))?.state).toBe('queued');
    const jobs = (await api(nl.url, admin, 'GET', '/api/jobs')).json as {
      jobs: Array<{ name: string; waiting: string | null }>;
    };
    expect(jobs.jobs.find((j) => j.name === 'build')?.waiting).toBe(
      'waiting for an agent with linux, arm64',
    );
    const why = (await api(nl.url, admin, 'GET', '/api/why?job=build')).json as {
      waiting?: string;
    };
    expect(why.waiting).toBe('waiting for an agent with linux, arm64');

    // An agent with only one of the labels does not take it.
    const half = startAgent({
      server: nl.url,
      token,
      name: 'half',
      workDir: join(root, 'agent-half'),
      labels: 'linux',
    });
    agents.push(half);
    const full = startAgent({
      server: nl.url,
      token,
      name: 'full',
      workDir: join(root, 'agent-full'),
      labels: 'linux,arm64,big',
    });
    agents.push(full);

    // Live: the first line is on the server while the step still runs.
    const live = await eventually('the first log line while running', async () => {
      const b = await nl.store.read.getBuild(queued.id);
      if (b?.state !== 'running') return undefined;
      const log = await api(nl.url, admin, 'GET', `/api/builds/${queued.id}/log`);
      return log.text.includes(`first line from ${queued.id}`) ? b : undefined;
    });
    expect(live.worker).toBe('full');
    const done = await eventually('the build to finish', async () => {
      const b = await nl.store.read.getBuild(queued.id);
      return b && b.finishedAt !== null ? b : undefined;
    });
    expect(done.state).toBe('passed');
    expect(done.worker).toBe('full');
    const log = await api(nl.url, admin, 'GET', `/api/builds/${queued.id}/log`);
    expect(log.text).toContain('done');
    // Once: no chunk was appended twice (the step's own command line names the variable).
    expect(log.text.split(`first line from ${queued.id}`)).toHaveLength(2);
    const artifact = await api(nl.url, admin, 'GET', `/api/builds/${queued.id}/artifacts/dist`);
    expect(artifact.status).toBe(200);
    expect(artifact.text).toBe('hello from the agent');

    const db = new Database(join(root, 'data', 'nightless.db'), { readonly: true });
    try {
      const finished = db
        .prepare("SELECT count(*) AS n FROM outbox WHERE build_id = ? AND type = 'finished'")
        .get(queued.id) as { n: number };
      expect(finished.n).toBe(1);
    } finally {
      db.close();
    }

    const listed = (await api(nl.url, admin, 'GET', '/api/agents')).json as {
      agents: Array<{ name: string; labels: string[]; slots: number; version: string }>;
    };
    expect(listed.agents.map((a) => [a.name, a.labels.join(','), a.slots])).toEqual([
      ['full', 'linux,arm64,big', 1],
      ['half', 'linux', 1],
    ]);
  });

  it('an agent token can claim, but nothing else', async () => {
    for (const [method, path] of [
      ['GET', '/api/builds'],
      ['GET', '/api/agents'],
      ['POST', '/api/jobs/build/trigger'],
      ['GET', '/api/tokens'],
      ['POST', '/api/agent-tokens'],
    ] as const) {
      const res = await api(nl.url, token, method, path, method === 'POST' ? {} : undefined);
      expect([method, path, res.status]).toEqual([method, path, 403]);
    }
    const hello = { name: 'probe', labels: [], slots: 1, version: 't', running: [] };
    const claim = await api(nl.url, token, 'POST', '/api/agent/claim', { ...hello, waitMs: 0 });
    expect(claim.status).toBe(200);
  });
});
