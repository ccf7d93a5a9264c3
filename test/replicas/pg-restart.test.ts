import { createHmac, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { AMQP_URL, rabbitUnavailable, skipOrFail } from '../bus/rabbit.js';
import { ownPostgresUnavailable, startOwnPostgres, type OwnPostgres } from './own-postgres.js';

/**
 * PostgreSQL restarted under load, as an operator (or a failover) would do it: two real
 * `nightless serve` replicas on a PostgreSQL cluster of the test's own (the shared one is never
 * touched) and the real RabbitMQ bus, a stream of signed webhooks sent to both the whole time,
 * and `pg_ctl stop -m fast`, 2.5 s of outage, `pg_ctl start` in the middle. Webhooks are sent as
 * a forge sends them: a refusal is retried with the same delivery id.
 *
 * What must hold afterwards: every refusal was a 503 with a JSON error body; every delivery
 * accepted is in the inbox exactly once; every version built exactly once per job, nothing left
 * queued or running; both replicas serve the API and say the store is up; exactly one leads.
 */
const why = (await rabbitUnavailable()) ?? (await ownPostgresUnavailable());
if (why !== null) skipOrFail('the PostgreSQL restart test', why);

const root = join(import.meta.dirname, '..', '..');
const TSX = pathToFileURL(join(root, 'node_modules/tsx/dist/loader.mjs')).href;
const MAIN = join(root, 'src/cli/main.ts');
const TOKEN = 'test-token-pg-restart';
const SECRET = 'restart-secret';
const SOURCES = ['s0', 's1', 's2', 's3'] as const;
const PUSHES = 120;

interface Served {
  readonly proc: ChildProcess;
  out: string;
  err: string;
  base: string | null;
}

function serve(dir: string, name: string, url: string): Served {
  const proc = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      MAIN,
      'serve',
      '--port',
      '0',
      '-c',
      'nightless.yaml',
      '-d',
      join(dir, name),
      '--slots',
      '2',
      '--log-level',
      'info',
    ],
    {
      cwd: dir,
      env: {
        ...process.env,
        NIGHTLESS_TOKEN: TOKEN,
        NIGHTLESS_DATABASE_URL: url,
        NIGHTLESS_BUS_URL: AMQP_URL,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const s: Served = { proc, out: '', err: '', base: null };
  proc.stdout?.setEncoding('utf8').on('data', (d: string) => (s.out += d));
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => (s.err += d));
  return s;
}

async function until<T>(what: string, probe: () => Promise<T | false> | T | false, ms: number) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await Promise.resolve()
      .then(probe)
      .catch(() => false as const);
    if (v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** The end of a replica's log, for failure messages. */
const tail = (r: Served): string => (r.err + r.out).slice(-4000);

interface Refusal {
  readonly status: number;
  readonly body: string;
}

/** One forge delivery: retried (same id) until a 2xx, like a forge, at most ~60 s. */
async function deliver(
  base: () => string,
  source: string,
  version: string,
  refusals: Refusal[],
): Promise<{ delivery: string; attempts: number }> {
  const delivery = randomUUID();
  const body = JSON.stringify({ source, version });
  const sig = createHmac('sha256', SECRET).update(body).digest('hex');
  for (let attempt = 1; attempt <= 120; attempt++) {
    try {
      const res = await fetch(`${base()}/hooks/generic`, {
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
      if (res.status >= 200 && res.status < 300) return { delivery, attempts: attempt };
      refusals.push({ status: res.status, body: text });
    } catch (err) {
      refusals.push({ status: 0, body: String(err) });
    }
    await new Promise((r) => setTimeout(r, 250 + Math.min(attempt, 8) * 100));
  }
  throw new Error(
    `delivery of ${source} ${version} never accepted; last: ${JSON.stringify(refusals.at(-1))}`,
  );
}

describe.skipIf(why !== null)('PostgreSQL restarted under load (own cluster, two replicas)', () => {
  let dir: string;
  let db: OwnPostgres | undefined;
  const replicas: Served[] = [];

  afterAll(async () => {
    for (const r of replicas) r.proc.kill('SIGKILL');
    // What an operator would read in the replicas' logs (kept for a person looking into a run).
    const keep = process.env.NIGHTLESS_TEST_KEEP_LOGS;
    if (keep)
      for (const [i, r] of replicas.entries())
        await writeFile(join(keep, `pg-restart-r${i + 1}.log`), r.err + r.out);
    await db?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('loses no accepted webhook, builds each version once, and elects one leader again', async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-pg-restart-'));
    db = await startOwnPostgres();
    const sources = SOURCES.map(
      (s) => `  ${s}:
    http: http://127.0.0.1:9/${s}
    allow_private: true
    fallback_poll: off
    webhook_secret: ${SECRET}
`,
    ).join('');
    const jobs = SOURCES.flatMap((s) =>
      ['a', 'b'].map(
        (j) => `  ${s}-${j}:
    inputs: [${s}]
    supersede: false
    concurrency: 20
    steps:
      - run: "true"
`,
      ),
    ).join('');
    await writeFile(join(dir, 'nightless.yaml'), `sources:\n${sources}jobs:\n${jobs}`);

    // One replica first: it migrates; the second joins the migrated database.
    for (const name of ['r1', 'r2']) {
      const r = serve(dir, name, db.url);
      replicas.push(r);
      r.base = await until(
        `${name} listening`,
        () => /at (http:\/\/\S+)/.exec(r.out)?.[1] ?? false,
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${r.err}`);
      });
    }
    const bases = replicas.map((r) => r.base!);
    const api = async (base: string, path: string) => {
      const res = await fetch(`${base}${path}`, {
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: AbortSignal.timeout(5_000),
      });
      return { status: res.status, body: await res.text() };
    };
    const leaders = async () => {
      let n = 0;
      for (const base of bases) {
        const res = await fetch(`${base}/metrics`, {
          headers: { authorization: `Bearer ${TOKEN}` },
          signal: AbortSignal.timeout(5_000),
        });
        if (/^nightless_leader 1$/m.test(await res.text())) n++;
      }
      return n;
    };
    await until('one leader', async () => (await leaders()) === 1, 30_000);

    const refusals: Refusal[] = [];
    const accepted: string[] = [];
    const versions: Array<{ source: string; version: string }> = [];
    let restartedAt = 0;
    const readyWhileDown: Refusal[] = [];
    let readyAgainMs = -1;
    let leaderAgainMs = -1;
    let restarted: Promise<void> = Promise.resolve();
    // Four senders at once; the restart after a third of the pushes, while they keep sending.
    let next = 0;
    const sender = async (k: number) => {
      for (;;) {
        const i = next++;
        if (i >= PUSHES) return;
        if (i === Math.floor(PUSHES / 3)) {
          restartedAt = Date.now();
          restarted = (async () => {
            await db!.stop();
            const down = Date.now();
            // While it is down, each replica says so to a load balancer.
            for (const base of bases) {
              const res = await fetch(`${base}/readyz`, { signal: AbortSignal.timeout(5_000) });
              readyWhileDown.push({ status: res.status, body: await res.text() });
            }
            await new Promise((r) => setTimeout(r, Math.max(0, 2_500 - (Date.now() - down))));
            await db!.start();
            const up = Date.now();
            await until(
              'both replicas ready again',
              async () => {
                for (const base of bases)
                  if ((await api(base, '/readyz')).status !== 200) return false;
                return true;
              },
              30_000,
            );
            readyAgainMs = Date.now() - up;
            await until('one leader again', async () => (await leaders()) === 1, 30_000);
            leaderAgainMs = Date.now() - up;
          })();
        }
        const source = SOURCES[i % SOURCES.length]!;
        const version = `v${i}`;
        versions.push({ source, version });
        const { delivery } = await deliver(() => bases[(i + k) % 2]!, source, version, refusals);
        accepted.push(delivery);
        await new Promise((r) => setTimeout(r, 30));
      }
    };
    await Promise.all([0, 1, 2, 3].map(sender)).catch((e: Error) => {
      throw new Error(`${e.message}\nr1: ${tail(replicas[0]!)}\nr2: ${tail(replicas[1]!)}`);
    });
    await restarted;
    const sentMs = Date.now() - restartedAt;

    expect(readyWhileDown.map((r) => r.status)).toEqual([503, 503]);
    for (const r of readyWhileDown)
      expect(JSON.parse(r.body)).toEqual({
        error: { code: 'NL_UNAVAILABLE', message: 'the database is unavailable' },
      });
    // Every refusal a forge saw was a clear one: 503 and a JSON error body.
    for (const r of refusals) {
      expect(r.status, r.body).toBe(503);
      expect((JSON.parse(r.body) as { error: { code: string } }).error.code).toBe('NL_UNAVAILABLE');
    }

    // The database's view: every accepted delivery once, every version built once per job.
    const client = new pg.Client({ connectionString: db.url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      const settled = await until(
        'every build finished',
        async () => {
          const { rows } = await client.query<{ state: string; n: string }>(
            'select state, count(*) as n from builds group by state',
          );
          const by = Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
          const total = rows.reduce((a, r) => a + Number(r.n), 0);
          return total >= PUSHES * 2 && !by.queued && !by.running ? by : false;
        },
        120_000,
      ).catch(async (e: Error) => {
        const { rows } = await client.query(
          'select id, job, state, worker from builds where state in ($1, $2)',
          ['queued', 'running'],
        );
        throw new Error(
          `${e.message}: ${JSON.stringify(rows)}\nr1: ${replicas[0]!.err.slice(-3000)}\nr2: ${replicas[1]!.err.slice(-3000)}`,
        );
      });
      if (settled.passed !== PUSHES * 2) {
        // Say which builds did not pass and why, with both replicas' logs: this is the assertion
        // that catches a build misreported across the outage.
        const { rows } = await client.query(
          `select id, job, state, worker, attempt, failed_step, reason from builds where state <> 'passed'`,
        );
        expect.fail(
          `${JSON.stringify(settled)}: ${JSON.stringify(rows)}\nr1: ${replicas[0]!.err.slice(-4000)}\nr2: ${replicas[1]!.err.slice(-4000)}`,
        );
      }
      expect(settled).toEqual({ passed: PUSHES * 2 });
      const { rows: events } = await client.query<{ delivery_id: string }>(
        `select delivery_id from events where delivery_id like 'generic:%'`,
      );
      const stored = events.map((e) => e.delivery_id.slice('generic:'.length).split('/')[0]);
      expect(stored.sort()).toEqual([...accepted].sort());
      const { rows: built } = await client.query<{ job: string; version: string; n: string }>(
        `select b.job, i.version, count(*) as n from builds b
           join build_inputs i on i.build_id = b.id group by b.job, i.version`,
      );
      expect(built.every((r) => r.n === '1')).toBe(true);
      const want = versions.flatMap((v) => ['a', 'b'].map((j) => `${v.source}-${j} ${v.version}`));
      expect(built.map((r) => `${r.job} ${r.version}`).sort()).toEqual(want.sort());
    } finally {
      await client.end();
    }

    // Both replicas serve the API and say they are ready; exactly one leads again.
    for (const base of bases) {
      expect((await api(base, '/api/builds?limit=1')).status).toBe(200);
      expect((await api(base, '/readyz')).status).toBe(200);
    }
    expect(await until('one leader', async () => (await leaders()) === 1 && 1, 15_000)).toBe(1);
    const log = replicas.map((r) => r.err + r.out).join('\n');
    expect(log).not.toMatch(/uncaught|unhandled/i);
    console.info(
      `pg restart: ${PUSHES} pushes, ${refusals.length} refusals (503), both replicas ready ${readyAgainMs} ms and one leader ${leaderAgainMs} ms after PostgreSQL was back, stream done ${sentMs} ms after the restart began; server log tail:\n${readFileSync(db.logFile, 'utf8').split('\n').slice(-5).join('\n')}`,
    );
  }, 300_000);
});
