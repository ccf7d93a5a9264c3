import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { replicaName } from '../../src/app/replica.js';
import {
  dropSchema,
  postgresAvailable,
  TEST_PG_URL,
  uniqueSchema,
} from '../../src/testing/postgres-fixture.js';
import { AMQP_URL, rabbitUnavailable, skipOrFail } from '../bus/rabbit.js';
import {
  alive,
  commit,
  eventually,
  git,
  push,
  startServe,
  type ServeProcess,
} from '../agent/helpers.js';

/**
 * Builds on a server replica's own slots are leased like agents' (issue 14): two real `nightless
 * serve` replicas with one slot each on one PostgreSQL database (RabbitMQ between them), a lease
 * of 3 s. The replica running a long step is killed with SIGKILL, or frozen with SIGSTOP past
 * its lease: the build ends `error: lost` within a lease and a sweep, is re-queued, passes on the
 * other replica, and every attempt is reported `finished` once. The frozen replica's step is
 * killed when it wakes up and its result is not recorded; the killed replica's step dies with it
 * (its spawn helper ends it), so it never runs beside the re-run.
 */
const rabbit = await rabbitUnavailable();
if (rabbit !== null) skipOrFail('the replica lease tests', rabbit);
const PG = rabbit === null && (await postgresAvailable('the replica lease tests'));

const ADMIN = 'slot-leases-admin-token';
const LEASE_MS = 3000;

interface Row {
  id: string;
  state: string;
  reason: string | null;
  worker: string | null;
  attempt: string;
  related_build: string | null;
  finished_at: string | null;
}

describe.skipIf(!PG)(
  'replica slots hold leases (PostgreSQL, RabbitMQ)',
  { timeout: 240_000 },
  () => {
    let dir: string;
    let work: string;
    let marks: string;
    let schema: string;
    let database: string;
    let db: pg.Client;
    const replicas = new Map<string, ServeProcess>();
    let n = 0;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'replica-leases-'));
      work = join(dir, 'app');
      marks = join(dir, 'marks');
      await mkdir(marks);
      git(dir, 'init', '-q', '--initial-branch=main', work);
      schema = uniqueSchema();
      const admin = new pg.Client({ connectionString: TEST_PG_URL, connectionTimeoutMillis: 5000 });
      await admin.connect();
      await admin.query(`create schema ${schema}`);
      await admin.end();
      database = `${TEST_PG_URL}?options=${encodeURIComponent(`-c search_path=${schema}`)}`;
      db = new pg.Client({ connectionString: database, connectionTimeoutMillis: 5000 });
      await db.connect();
      // The first attempt of a build runs long (and records its step's pid); a retry finds the
      // mark and passes at once.
      await writeFile(
        join(dir, 'nightless.yaml'),
        `version: 1
pipeline: slot-leases
sources:
  app:
    git: ${work}
    branch: main
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    steps:
      - run: |
          m="${marks}/$(cat f)"
          if [ ! -e "$m" ]; then touch "$m"; sleep "$(cat f.sleep)" & echo $! > "$m.pid"; wait; fi
          echo "passed on attempt"
`,
      );
    }, 60_000);

    afterEach(async () => {
      await Promise.all([...replicas.values()].map((r) => r.stop()));
      replicas.clear();
    }, 60_000);

    afterAll(async () => {
      await db?.end();
      if (schema) await dropSchema(schema);
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }, 60_000);

    async function replica(name: string): Promise<ServeProcess> {
      const r = startServe({
        ...{ dir, name, database, bus: AMQP_URL, admin: ADMIN, slots: 1 },
        args: ['--agent-lease', `${LEASE_MS / 1000}s`],
      });
      replicas.set(name, r);
      await r.listening();
      return r;
    }

    async function build(id: number): Promise<Row> {
      const { rows } = await db.query<Row>('select * from builds where id = $1', [id]);
      if (!rows[0]) throw new Error(`no build #${id}`);
      return rows[0];
    }

    const finished = (id: number, ms = 60_000) =>
      eventually(
        `build #${id} to finish`,
        async () => {
          const b = await build(id);
          return b.finished_at !== null ? b : undefined;
        },
        ms,
      );

    /** The build that retried `id` after it was lost. */
    const retryOf = (id: number) =>
      eventually(`a retry of #${id}`, async () => {
        const b = await build(id);
        return b.related_build !== null ? build(Number(b.related_build)) : undefined;
      });

    /** Pushes a commit whose first build attempt's step sleeps `seconds`; waits for the step. */
    async function pushRun(
      url: string,
      seconds: number,
    ): Promise<{ id: number; pid: number; worker: string }> {
      const name = `run${++n}`;
      await writeFile(join(work, 'f.sleep'), String(seconds));
      const sha = await commit(work, name);
      await push(url, ADMIN, work, sha);
      const mark = join(marks, name);
      const pid = Number(
        (
          await eventually('the step to start', async () =>
            existsSync(`${mark}.pid`) ? await readFile(`${mark}.pid`, 'utf8') : undefined,
          )
        ).trim(),
      );
      const { rows } = await db.query<Row>(
        `select b.* from builds b join build_inputs i on i.build_id = b.id
        where i.version = $1 and b.attempt = 1`,
        [sha],
      );
      const b = rows[0];
      if (!b?.worker) throw new Error(`no running build for ${sha}`);
      return { id: Number(b.id), pid, worker: b.worker };
    }

    /** The replica whose worker name is `worker`, and the other one. */
    function byWorker(worker: string): [string, string] {
      const names = [...replicas.keys()];
      const victim = names.find((r) => replicaName(join(dir, r)) === worker);
      if (!victim) throw new Error(`no replica is worker ${worker}`);
      return [victim, names.find((r) => r !== victim) ?? ''];
    }

    async function finishedRows(id: number): Promise<number> {
      const { rows } = await db.query<{ n: string }>(
        `select count(*) as n from outbox where build_id = $1 and type = 'finished'`,
        [id],
      );
      return Number(rows[0]?.n ?? 0);
    }

    it('kill -9 mid-step: its step dies with it, error lost within a lease, re-run passes on the other replica, reported once each', async () => {
      const a = await replica('replica-a');
      await replica('replica-b');
      const { id, pid, worker } = await pushRun(a.url, 120);
      const [victim, survivor] = byWorker(worker);
      expect(alive(pid)).toBe(true);
      const killedAt = Date.now();
      await replicas.get(victim)?.kill9();
      // Its spawn helper ends the step at once: it never runs beside the re-run.
      await eventually(
        'the killed replica’s step to end',
        () => Promise.resolve(alive(pid) ? undefined : true),
        6000,
      );
      const stepGoneAfter = Date.now() - killedAt;

      const lost = await finished(id);
      const lostAfter = Date.now() - killedAt;
      expect(lost.state).toBe('error');
      expect(lost.reason).toBe(`lost: replica ${worker} stopped renewing its lease`);
      // The lease (renewed every second) ends at most 3 s after the kill, the sweep runs every
      // second; the rest is this loaded machine's slack.
      expect(lostAfter).toBeLessThan(LEASE_MS + 1000 + 6000);
      const retry = await retryOf(id);
      expect(Number(retry.attempt)).toBe(2);
      const passed = await finished(Number(retry.id));
      expect(passed.state).toBe('passed');
      expect(passed.worker).toBe(replicaName(join(dir, survivor)));
      expect(await finishedRows(id)).toBe(1);
      expect(await finishedRows(Number(retry.id))).toBe(1);

      // Started again, it finds nothing left to kill, and changes nothing for the builds: the
      // loss and the re-run stand, reported once each.
      const again = await replica(victim);
      expect(again.output()).not.toMatch(/killed processes lost builds left running/);
      expect((await build(id)).state).toBe('error');
      expect((await build(Number(retry.id))).state).toBe('passed');
      expect(await finishedRows(id)).toBe(1);
      console.info(
        `replica kill -9 → step gone after ${stepGoneAfter} ms, build error: lost after ${lostAfter} ms (lease ${LEASE_MS} ms)`,
      );
    });

    it('a replica frozen past its lease: its step is killed when it wakes, its result is not recorded, the re-run stands', async () => {
      const a = await replica('replica-a');
      await replica('replica-b');
      const { id, pid, worker } = await pushRun(a.url, 60);
      const [frozenName, other] = byWorker(worker);
      const frozen = replicas.get(frozenName);
      frozen?.child.kill('SIGSTOP');

      const lost = await finished(id);
      expect(lost.state).toBe('error');
      expect(lost.reason).toBe(`lost: replica ${worker} stopped renewing its lease`);
      const retry = await retryOf(id);
      const passed = await finished(Number(retry.id));
      expect(passed.state).toBe('passed');
      expect(passed.worker).toBe(replicaName(join(dir, other)));
      // Frozen, it renews nothing and kills nothing: the step still runs.
      expect(alive(pid)).toBe(true);

      frozen?.child.kill('SIGCONT');
      const wokeAt = Date.now();
      // Its next renewal (within a third of the lease) finds the lease gone: the step is killed
      // long before its 60 s sleep ends, and the result is dropped.
      await eventually('the stale step to be killed', () =>
        Promise.resolve(alive(pid) ? undefined : true),
      );
      const killedAfter = Date.now() - wokeAt;
      await eventually('the stale replica to give up the result', () =>
        Promise.resolve(
          /result discarded|result refused/.test(frozen?.output() ?? '') ? true : undefined,
        ),
      );
      expect(frozen?.output()).toMatch(/build lease lost/);
      expect(killedAfter).toBeLessThan(20_000);
      // Give a late write time to land: nothing changes, each attempt is reported once.
      await new Promise((r) => setTimeout(r, 1500));
      expect(await build(id)).toMatchObject({ state: 'error', reason: lost.reason });
      expect(await build(Number(retry.id))).toMatchObject({
        state: 'passed',
        worker: passed.worker,
      });
      expect(await finishedRows(id)).toBe(1);
      expect(await finishedRows(Number(retry.id))).toBe(1);
      console.info(`frozen replica woke → stale step killed after ${killedAfter} ms`);
    });
  },
);
