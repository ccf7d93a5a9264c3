import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { skipOrFail } from '../bus/rabbit.js';
import { DATABASE_URL, postgresUnavailable } from './postgres.js';

const why = await postgresUnavailable();
if (why !== null) skipOrFail('the leader election tests', why);

const child = join(import.meta.dirname, 'elector-child.ts');

interface Change {
  readonly name: string;
  readonly leading: boolean;
  readonly at: number;
}

/** One elector process and what it said. */
interface Elector {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly changes: Change[];
  /** When it died (this machine's clock), once it has. */
  diedAt: number | null;
  readonly exited: Promise<void>;
}

function spawnElector(name: string, lockName: string): Elector {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, DATABASE_URL, lockName, name], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const changes: Change[] = [];
  let buffered = '';
  proc.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as Partial<Change>;
      if (typeof parsed.leading === 'boolean') changes.push(parsed as Change);
    }
  });
  const e: Elector = {
    name,
    proc,
    changes,
    diedAt: null,
    exited: new Promise((resolve) =>
      proc.on('exit', () => {
        e.diedAt = Date.now();
        resolve();
      }),
    ),
  };
  return e;
}

const leads = (e: Elector): boolean => e.diedAt === null && e.changes.at(-1)?.leading === true;

async function until(what: string, done: () => boolean, ms: number): Promise<number> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > ms) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

/**
 * The periods each elector led, [from, to) on this machine's clock; `to` is when it stepped down
 * or died, or now. Two periods of different electors must never overlap.
 */
function periods(electors: readonly Elector[]): Array<{ name: string; from: number; to: number }> {
  const out: Array<{ name: string; from: number; to: number }> = [];
  for (const e of electors) {
    let from: number | null = null;
    for (const c of e.changes) {
      if (c.leading) from = c.at;
      else if (from !== null) {
        out.push({ name: e.name, from, to: c.at });
        from = null;
      }
    }
    if (from !== null) out.push({ name: e.name, from, to: e.diedAt ?? Date.now() });
  }
  return out;
}

function expectNeverTwoLeaders(electors: readonly Elector[]): void {
  const all = periods(electors).sort((a, b) => a.from - b.from);
  for (let i = 1; i < all.length; i++) {
    const prev = all[i - 1];
    const cur = all[i];
    if (prev && cur)
      expect(cur.from, `${cur.name} led while ${prev.name} did`).toBeGreaterThanOrEqual(prev.to);
  }
}

describe.skipIf(why !== null)(
  'leader election on a PostgreSQL advisory lock (separate processes)',
  () => {
    const electors: Elector[] = [];
    afterEach(async () => {
      for (const e of electors) if (e.diedAt === null) e.proc.kill('SIGKILL');
      await Promise.all(electors.splice(0).map((e) => e.exited));
    });

    it('elects one of two; after kill -9 of the leader the other leads within 10 s; never two at once', async () => {
      const lock = `test.leader.${randomUUID()}`;
      const run = randomUUID().slice(0, 8); // names unique across concurrent runs on one server
      electors.push(spawnElector(`a-${run}`, lock), spawnElector(`b-${run}`, lock));
      await until('a leader', () => electors.some(leads), 20_000);
      // Sample for a while: exactly one leads throughout.
      for (let i = 0; i < 20; i++) {
        expect(electors.filter(leads)).toHaveLength(1);
        await new Promise((r) => setTimeout(r, 100));
      }
      const leader = electors.find(leads);
      const follower = electors.find((e) => !leads(e));
      if (!leader || !follower) throw new Error('no leader and follower');
      leader.proc.kill('SIGKILL');
      await leader.exited;
      const tookMs = await until(`${follower.name} leading`, () => leads(follower), 10_000);
      expect(tookMs).toBeLessThan(10_000);
      expectNeverTwoLeaders(electors);
    });

    it('steps down at once when its session is killed, and one leader follows', async () => {
      const lock = `test.leader.${randomUUID()}`;
      const run = randomUUID().slice(0, 8); // names unique across concurrent runs on one server
      electors.push(spawnElector(`a-${run}`, lock), spawnElector(`b-${run}`, lock));
      await until('a leader', () => electors.some(leads), 20_000);
      const leader = electors.find(leads);
      if (!leader) throw new Error('no leader');
      const admin = new pg.Client({
        connectionString: DATABASE_URL,
        connectionTimeoutMillis: 5_000,
      });
      await admin.connect();
      try {
        // The leader's session, found by the name it gives itself (application_name).
        const { rowCount } = await admin.query(
          `select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and pid <> pg_backend_pid()`,
          [`nightless leader ${leader.name}`],
        );
        expect(rowCount).toBeGreaterThanOrEqual(1);
      } finally {
        await admin.end();
      }
      await until(
        `${leader.name} stepping down`,
        () => leader.changes.at(-1)?.leading === false,
        3_000,
      );
      await until('a leader again', () => electors.some(leads), 10_000);
      expectNeverTwoLeaders(electors);
    });
  },
);
