import { createHmac, randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import type { Server } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { AMQP_URL, rabbitUnavailable, skipOrFail } from '../bus/rabbit.js';
import {
  ownPostgresUnavailable,
  startOwnPostgres,
  type OwnPostgres,
} from '../replicas/own-postgres.js';
import {
  agentToken,
  api,
  eventually,
  startAgent,
  startEventReceiver,
  type AgentProcess,
  type ReceivedEvent,
} from './helpers.js';

/**
 * Issue 14, "PostgreSQL restarted under load → replicas and agents reconnect; nothing accepted is
 * lost", with the builds on agents: two real `nightless serve --slots 0` replicas on a PostgreSQL
 * cluster of the test's own, the real RabbitMQ bus, two `nightless agent` processes each given
 * both replicas, a stream of signed webhooks, and `pg_ctl stop -m fast` for ~2.5 s while builds
 * (steps that sleep) run on the agents, then `pg_ctl start`.
 *
 * What must hold: every accepted delivery built exactly once, by an agent, passed; nothing left
 * queued or running; the builds that were running when the database went away finished during
 * the outage and their results were kept by the agents and recorded afterwards (not lost, not
 * re-run); `started` and `finished` once per build in the outbox and once (by CloudEvents id) at
 * the report webhook; both agents still alive and a build pushed after the restart runs on one.
 */
const why = (await rabbitUnavailable()) ?? (await ownPostgresUnavailable());
if (why !== null) skipOrFail('the PostgreSQL restart test with agents', why);

const ROOT = join(import.meta.dirname, '..', '..');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(ROOT, 'src/cli/main.ts');
const ADMIN = 'pg-restart-agents-admin';
const SECRET = 'restart-secret';
const SOURCES = ['s0', 's1', 's2', 's3'] as const;
const PUSHES = 36;
/** The push after which PostgreSQL is stopped (the stream keeps going meanwhile). */
const STOP_AT = 12;
const LEASE = process.env.NIGHTLESS_TEST_AGENT_LEASE ?? '2s';

interface Served {
  readonly proc: ChildProcess;
  out: string;
  base: string;
}

function serve(dir: string, name: string, url: string): Served {
  const proc = spawn(
    process.execPath,
    [
      ...['--import', TSX, MAIN, 'serve', '--port', '0', '--slots', '0', '--no-watch'],
      ...['-c', 'nightless.yaml', '-d', join(dir, name), '--log-level', 'info'],
      // A lease shorter than the outage: no heartbeat can renew it while the database is down.
      ...['--agent-lease', LEASE],
    ],
    {
      cwd: dir,
      env: {
        ...process.env,
        NIGHTLESS_TOKEN: ADMIN,
        NIGHTLESS_DATABASE_URL: url,
        NIGHTLESS_BUS_URL: AMQP_URL,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const s: Served = { proc, out: '', base: '' };
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (s.out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (s.out += d));
  return s;
}

interface Refusal {
  readonly status: number;
  readonly body: string;
}

/** One forge delivery: retried (same id) until a 2xx, like a forge, at most ~60 s. */
async function deliver(
  base: string,
  source: string,
  version: string,
  refusals: Refusal[],
): Promise<string> {
  const delivery = randomUUID();
  const body = JSON.stringify({ source, version });
  const sig = createHmac('sha256', SECRET).update(body).digest('hex');
  for (let attempt = 1; attempt <= 120; attempt++) {
    try {
      const res = await fetch(`${base}/hooks/generic`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'x-nightless-signature-256': `sha256=${sig}`,
          'x-nightless-delivery': delivery,
        },
        body,
        signal: AbortSignal.timeout(10_000),
      });
      const text = await res.text();
      if (res.status >= 200 && res.status < 300) return delivery;
      refusals.push({ status: res.status, body: text });
    } catch (err) {
      refusals.push({ status: 0, body: String(err) });
    }
    await new Promise((r) => setTimeout(r, 250 + Math.min(attempt, 8) * 100));
  }
  throw new Error(
    `delivery of ${source} ${version} never accepted: ${JSON.stringify(refusals.at(-1))}`,
  );
}

type BuildRow = { id: string; job: string; state: string; worker: string | null };

describe.skipIf(why !== null)('PostgreSQL restarted under load, builds on agents', () => {
  let dir: string;
  let db: OwnPostgres | undefined;
  let receiver: Server | undefined;
  const replicas: Served[] = [];
  const agents: AgentProcess[] = [];
  const events: ReceivedEvent[] = [];

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.kill9()));
    for (const r of replicas) r.proc.kill('SIGKILL');
    const keep = process.env.NIGHTLESS_TEST_KEEP_LOGS;
    if (keep) {
      for (const [i, r] of replicas.entries())
        await writeFile(join(keep, `pg-restart-agents-r${i + 1}.log`), r.out);
      for (const a of agents) await writeFile(join(keep, `pg-restart-${a.name}.log`), a.output());
    }
    await new Promise<void>((r) => (receiver ? receiver.close(() => r()) : r()));
    await db?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }, 60_000);

  it('keeps every result finished during the outage and builds each delivery once', async () => {
    const t0 = Date.now();
    dir = await mkdtemp(join(tmpdir(), 'nightless-pg-restart-agents-'));
    db = await startOwnPostgres();
    const received = await startEventReceiver(events);
    receiver = received.server;
    const port = received.port;
    const sources = SOURCES.map(
      (s) =>
        `  ${s}:\n    http: http://127.0.0.1:9/${s}\n    allow_private: true\n    fallback_poll: off\n    webhook_secret: ${SECRET}\n`,
    ).join('');
    // Steps that take a while, so builds are running on the agents when the database goes.
    const jobs = SOURCES.map(
      (s) =>
        `  ${s}-build:\n    inputs: [${s}]\n    supersede: false\n    concurrency: 20\n    steps:\n      - run: sleep 0.8\n`,
    ).join('');
    await writeFile(
      join(dir, 'nightless.yaml'),
      `sources:\n${sources}jobs:\n${jobs}reports:\n  - webhook:\n      url: http://127.0.0.1:${port}/events\n      secret: report-secret\n      allow_private: true\n`,
    );

    // One replica first: it migrates; the second joins the migrated database.
    for (const name of ['r1', 'r2']) {
      const r = serve(dir, name, db.url);
      replicas.push(r);
      r.base = await eventually(
        `${name} listening`,
        () => Promise.resolve(/at (http:\/\/[^\s"]+)/.exec(r.out)?.[1]),
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${r.out}`);
      });
    }
    const [a, b] = replicas as [Served, Served];
    const token = await agentToken(a.base, ADMIN, 'pool');
    agents.push(
      startAgent({
        server: [a.base, b.base],
        token,
        name: 'agent-0',
        workDir: join(dir, 'w0'),
        slots: 3,
      }),
      startAgent({
        server: [b.base, a.base],
        token,
        name: 'agent-1',
        workDir: join(dir, 'w1'),
        slots: 3,
      }),
    );
    const logs = () =>
      [
        ...replicas.map((r) => r.out.slice(-3000)),
        ...agents.map((x) => x.output().slice(-3000)),
      ].join('\n-----\n');

    const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 5_000 });
    const query = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []) => {
      // A client of the test's own, reconnected after the restart.
      return (await client.query<R>(sql, params)).rows;
    };
    await client.connect();
    client.on('error', () => undefined);

    const refusals: Refusal[] = [];
    const accepted: string[] = [];
    const versions: Array<{ source: string; version: string }> = [];
    let runningAtStop: BuildRow[] = [];
    const whileDown: Array<{ path: string; status: number; json: unknown }> = [];
    let restarted: Promise<void> = Promise.resolve();
    let next = 0;
    const sender = async (k: number) => {
      for (let guard = 0; guard < PUSHES; guard++) {
        const i = next++;
        if (i >= PUSHES) return;
        if (i === STOP_AT) {
          restarted = (async () => {
            // Stop only once builds are running on the agents (bounded wait).
            runningAtStop = await eventually(
              'a build running on an agent',
              async () => {
                const rows = await query<BuildRow>(
                  `select id::text as id, job, state, worker from builds where state = 'running'`,
                );
                return rows.length > 0 ? rows : undefined;
              },
              30_000,
            );
            await client.end();
            await db!.stop();
            const down = Date.now();
            // What an agent hears meanwhile from either replica: 503 NL_UNAVAILABLE, to retry.
            const hello = { name: 'probe', labels: [], slots: 1, version: 'test', running: [] };
            for (const base of [a.base, b.base])
              for (const [path, body] of [
                ['/api/agent/claim', { ...hello, waitMs: 100 }],
                ['/api/agent/heartbeat', hello],
                [
                  `/api/agent/builds/${runningAtStop[0]!.id}/finish`,
                  { agent: 'probe', result: { state: 'passed' }, logBytes: 0 },
                ],
              ] as const)
                whileDown.push({ path, ...(await api(base, token, 'POST', path, body)) });
            await new Promise((r) => setTimeout(r, Math.max(0, 2_500 - (Date.now() - down))));
            await db!.start();
          })();
        }
        const source = SOURCES[i % SOURCES.length]!;
        const version = `v${i}`;
        versions.push({ source, version });
        accepted.push(await deliver([a, b][(i + k) % 2]!.base, source, version, refusals));
        await new Promise((r) => setTimeout(r, 150));
      }
    };
    await Promise.all([0, 1].map(sender)).catch((e: Error) => {
      throw new Error(`${e.message}\n${logs()}`);
    });
    await restarted;
    const restartedAt = Date.now();
    expect(runningAtStop.length).toBeGreaterThan(0);
    expect(whileDown).toHaveLength(6);
    for (const r of whileDown)
      expect(r, r.path).toMatchObject({ status: 503, json: { error: { code: 'NL_UNAVAILABLE' } } });

    // Every refusal a forge saw during the outage was a clear one: 503, NL_UNAVAILABLE.
    for (const r of refusals) {
      expect(r.status, r.body).toBe(503);
      expect((JSON.parse(r.body) as { error: { code: string } }).error.code).toBe('NL_UNAVAILABLE');
    }

    const after = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 5_000 });
    await after.connect();
    try {
      const rowsOf = async <R extends pg.QueryResultRow>(sql: string) =>
        (await after.query<R>(sql)).rows;
      const settled = await eventually(
        'every build finished',
        async () => {
          const rows = await rowsOf<BuildRow>(
            'select id::text as id, job, state, worker from builds order by id',
          );
          const open = rows.filter((r) => r.state === 'queued' || r.state === 'running');
          return rows.length >= PUSHES && open.length === 0 ? rows : undefined;
        },
        60_000,
      ).catch(async (e: Error) => {
        const rows = await rowsOf('select state, count(*) as n from builds group by state');
        throw new Error(`${e.message}: ${JSON.stringify(rows)}\n${logs()}`);
      });
      // Each accepted delivery once in the inbox; each version built once, passed, on an agent.
      const stored = (
        await rowsOf<{ delivery_id: string }>(
          `select delivery_id from events where delivery_id like 'generic:%'`,
        )
      ).map((e) => e.delivery_id.slice('generic:'.length).split('/')[0]);
      expect(stored.sort()).toEqual([...accepted].sort());
      expect(settled.filter((r) => r.state !== 'passed')).toEqual([]);
      expect(settled).toHaveLength(PUSHES);
      expect(settled.every((r) => /^agent-[01]$/.test(r.worker ?? ''))).toBe(true);
      const built = await rowsOf<{ job: string; version: string; n: string }>(
        `select b.job, i.version, count(*) as n from builds b
           join build_inputs i on i.build_id = b.id group by b.job, i.version`,
      );
      expect(built.filter((r) => r.n !== '1')).toEqual([]);
      expect(built.map((r) => `${r.job} ${r.version}`).sort()).toEqual(
        versions.map((v) => `${v.source}-build ${v.version}`).sort(),
      );
      // The builds running when PostgreSQL went away: passed on the agent that had them (their
      // results were kept through the outage, not lost and re-run elsewhere).
      const byId = new Map(settled.map((r) => [r.id, r]));
      for (const r of runningAtStop) {
        expect(byId.get(r.id)?.state, `build ${r.id}`).toBe('passed');
        expect(byId.get(r.id)?.worker, `build ${r.id}`).toBe(r.worker);
      }
      // Started and finished once per build in the outbox.
      const outbox = await rowsOf<{ build_id: string; type: string; n: string }>(
        `select build_id::text as build_id, type, count(*) as n from outbox
          where type in ('started', 'finished') group by build_id, type`,
      );
      expect(outbox.filter((r) => r.n !== '1')).toEqual([]);
      expect(outbox.filter((r) => r.type === 'started')).toHaveLength(PUSHES);
      expect(outbox.filter((r) => r.type === 'finished')).toHaveLength(PUSHES);
    } finally {
      await after.end();
    }

    // After the restart, both agents are alive and still claiming: a push runs on an agent.
    for (const x of agents) expect(x.child.exitCode, x.output().slice(-2000)).toBeNull();
    await deliver(b.base, 's0', 'after-restart', refusals);
    const check = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 5_000 });
    await check.connect();
    try {
      const lastBuild = await eventually(
        'the build after the restart',
        async () => {
          const { rows } = await check.query<BuildRow>(
            `select b.id::text as id, b.job, b.state, b.worker from builds b
               join build_inputs i on i.build_id = b.id where i.version = 'after-restart'`,
          );
          return rows[0]?.state === 'passed' ? rows[0] : undefined;
        },
        30_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${logs()}`);
      });
      expect(lastBuild.worker).toMatch(/^agent-[01]$/);
    } finally {
      await check.end();
    }

    // The report webhook: one `finished` CloudEvent (by id) per build, including the last one.
    const finished = () => {
      const bySubject = new Map<string, Set<string>>();
      for (const e of events.filter((x) => x.type === 'dev.nightless.build.finished'))
        bySubject.set(e.subject, (bySubject.get(e.subject) ?? new Set()).add(e.id));
      return bySubject;
    };
    await eventually(
      'a finished CloudEvent for every build',
      () => Promise.resolve(finished().size >= PUSHES + 1 ? true : undefined),
      30_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${finished().size}\n${logs()}`);
    });
    await new Promise((r) => setTimeout(r, 1500));
    expect(finished().size).toBe(PUSHES + 1);
    expect([...finished().values()].filter((ids) => ids.size !== 1)).toEqual([]);

    const all = [...replicas.map((r) => r.out), ...agents.map((x) => x.output())].join('\n');
    expect(all).not.toMatch(/uncaught|unhandled/i);
    console.info(
      `pg restart with agents: ${PUSHES} pushes, ${refusals.length} refusals (503), ${runningAtStop.length} builds running at the stop, settled ${Date.now() - restartedAt} ms after the stream, total ${Date.now() - t0} ms`,
    );
  }, 180_000);
});
