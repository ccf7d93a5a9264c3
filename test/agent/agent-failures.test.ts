import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Nightless } from '../../src/app/start-nightless.js';
import type { BuildDetail } from '../../src/store/ports.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import {
  adminToken,
  agentToken,
  alive,
  commit,
  eventually,
  freePort,
  git,
  push,
  startAgent,
  startServer,
  type AgentProcess,
} from './helpers.js';

/**
 * Agents failing: killed mid-step (its step dies with it, the lease expires, `error: lost`, the
 * retry passes on another agent), frozen past its lease (its late result is refused), and a
 * server that is away while the agent finishes (the result arrives later).
 * Real agent processes, a real server on SQLite and on PostgreSQL (where the lease sweep and a
 * late result really race on separate connections), a lease of 3 s.
 */
const backends: ReadonlyArray<{ name: string; schema: boolean }> = [
  { name: 'SQLite', schema: false },
  ...((await postgresAvailable('the agent failure tests'))
    ? [{ name: 'PostgreSQL', schema: true }]
    : []),
];

for (const backend of backends)
  describe(`agents failing [${backend.name}]`, { timeout: 180_000 }, () => {
    let root: string;
    let work: string;
    let marks: string;
    let port: number;
    let nl: Nightless;
    let admin: string;
    let token: string;
    let agents: AgentProcess[] = [];
    let n = 0;

    let database: string | undefined;
    let schema: string | undefined;

    beforeAll(async () => {
      root = await mkdtemp(join(tmpdir(), 'nightless-agent-fail-'));
      if (backend.schema) {
        schema = uniqueSchema();
        const admin = new pg.Client({
          connectionString: TEST_PG_URL,
          connectionTimeoutMillis: 5000,
        });
        await admin.connect();
        await admin.query(`create schema ${schema}`);
        await admin.end();
        database = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      }
      work = join(root, 'app');
      marks = join(root, 'marks');
      await mkdir(marks);
      git(root, 'init', '-q', '--initial-branch=main', work);
      // The first attempt of a build runs long (and records its long-running child's pid); a retry
      // finds the mark and passes at once.
      await writeFile(
        join(root, 'nightless.yaml'),
        `version: 1
pipeline: agent-failures
sources:
  app:
    git: ${work}
    branch: main
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    runs_on: [linux]
    steps:
      - run: |
          m="${marks}/$(cat f)"
          if [ ! -e "$m" ]; then touch "$m"; sleep "$(cat f.sleep)" & echo $! > "$m.pid"; wait; fi
          echo "passed on attempt"
`,
      );
      port = await freePort();
      nl = await startServer(root, port, 3000, false, database);
      admin = await adminToken(root);
      token = await agentToken(nl.url, admin, 'pool');
    }, 60_000);

    afterEach(async () => {
      await Promise.all(agents.map((a) => a.stop()));
      agents = [];
    });

    afterAll(async () => {
      await nl?.stop();
      if (schema) await dropSchema(schema);
      await rm(root, { recursive: true, force: true, maxRetries: 5 });
    });

    function agent(name: string): AgentProcess {
      const a = startAgent({
        server: `http://127.0.0.1:${port}`,
        token,
        name,
        workDir: join(root, `work-${name}`),
        labels: 'linux',
      });
      agents.push(a);
      return a;
    }

    async function pushRun(sleepSeconds: number): Promise<{ id: number; mark: string }> {
      const name = `run${++n}`;
      await writeFile(join(work, 'f.sleep'), String(sleepSeconds));
      const sha = await commit(work, name);
      await push(nl.url, admin, work, sha);
      const b = await eventually('the build', async () => {
        const builds = await nl.store.read.listBuilds({ job: 'build', limit: 1 });
        return builds[0]?.cause.kind === 'version' && builds[0].inputs[0]?.version === sha
          ? builds[0]
          : undefined;
      });
      return { id: b.id, mark: join(marks, name) };
    }

    async function build(id: number): Promise<BuildDetail> {
      const b = await nl.store.read.getBuild(id);
      if (!b) throw new Error(`no build #${id}`);
      return b;
    }

    const finished = (id: number) =>
      eventually(`build #${id} to finish`, async () => {
        const b = await build(id);
        return b.finishedAt !== null ? b : undefined;
      });

    /** The build that retried `id` after it was lost. */
    const retryOf = (id: number) =>
      eventually(`a retry of #${id}`, async () => {
        const b = await build(id);
        return b.relatedBuild !== null ? build(b.relatedBuild) : undefined;
      });

    it('kill -9 mid-step: its step ends with it; lease expires, error lost, the retry passes on another agent', async () => {
      const a = agent('victim');
      const { id, mark } = await pushRun(120);
      const pid = Number(
        (
          await eventually('the step to start', async () =>
            existsSync(`${mark}.pid`) ? await readFile(`${mark}.pid`, 'utf8') : undefined,
          )
        ).trim(),
      );
      expect(alive(pid)).toBe(true);
      expect((await build(id)).worker).toBe('victim');
      await a.kill9();
      // Its spawn helper ends the step at once: it never runs beside its retry.
      await eventually(
        'the killed agent’s step to end',
        () => Promise.resolve(alive(pid) ? undefined : true),
        6000,
      );

      const lost = await finished(id);
      expect(lost.state).toBe('error');
      expect(lost.reason).toMatch(/^lost: agent victim/);
      const retry = await retryOf(id);
      expect(retry.attempt).toBe(2);
      agent('rescuer');
      const passed = await finished(retry.id);
      expect(passed.state).toBe('passed');
      expect(passed.worker).toBe('rescuer');
      // Started again, it clears its marker of the lost build and claims no stale work.
      const again = agent('victim');
      await eventually('the restarted agent to look for leftovers', () =>
        Promise.resolve(
          /killed what a build of a previous run left/.test(again.output()) ? true : undefined,
        ),
      );
      expect((await build(id)).state).toBe('error');
    });

    it('a frozen agent past its lease cannot overwrite the re-run', async () => {
      const a = agent('frozen');
      const { id, mark } = await pushRun(4);
      await eventually('the step to start', () =>
        Promise.resolve(existsSync(`${mark}.pid`) ? true : undefined),
      );
      a.child.kill('SIGSTOP');
      const lost = await finished(id);
      expect(lost.state).toBe('error');
      const retry = await retryOf(id);
      agent('other');
      expect((await finished(retry.id)).state).toBe('passed');
      // Its step finished meanwhile; the agent wakes up with a result for a build it lost.
      await new Promise((r) => setTimeout(r, 4000));
      a.child.kill('SIGCONT');
      await eventually('the stale agent to give up', () =>
        Promise.resolve(/result discarded|result refused/.test(a.output()) ? true : undefined),
      );
      expect((await build(id)).state).toBe('error');
      expect((await build(id)).reason).toMatch(/^lost:/);
      expect((await build(retry.id)).state).toBe('passed');
      expect((await build(retry.id)).worker).toBe('other');
      // Reported once each: the lost attempt's ending and the re-run's, nothing from the stale agent.
      const outbox = await nl.store.outbox.outboxSince(0, 10_000);
      for (const b of [id, retry.id])
        expect(outbox.filter((o) => o.buildId === b && o.type === 'finished')).toHaveLength(1);
      // What the stale step printed after its lease ended was refused: the lost build's log ends
      // with its loss, and only the re-run's log has the step's last line.
      const logOf = (b: number) =>
        fetch(`${nl.url}/api/builds/${b}/log`, {
          headers: { authorization: `Bearer ${admin}` },
          signal: AbortSignal.timeout(10_000),
        }).then((r) => r.text());
      expect(await logOf(id)).not.toContain('passed on attempt');
      expect(await logOf(retry.id)).toContain('passed on attempt');
    });

    it('a server away while the agent finishes gets the result when it is back', async () => {
      agent('patient');
      const { id } = await pushRun(3);
      await eventually('the build to run', async () =>
        (await build(id)).state === 'running' ? true : undefined,
      );
      await nl.stop();
      // Longer than the step and than a lease: the agent must keep the result and the build.
      await new Promise((r) => setTimeout(r, 6000));
      nl = await startServer(root, port, 3000, false, database);
      const done = await finished(id);
      expect(done.state).toBe('passed');
      expect(done.worker).toBe('patient');
      const log = await fetch(`${nl.url}/api/builds/${id}/log`, {
        headers: { authorization: `Bearer ${admin}` },
      }).then((r) => r.text());
      expect(log).toContain('passed on attempt');
    });
  });
