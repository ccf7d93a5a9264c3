import type { Build } from '../../core/build.js';
import type { AgentRecord, AgentsPort, FinishedRun, LeasedBuild } from '../ports.js';
import type { SqlConnection } from './connection.js';
import { loadBuild, writeOutbox } from './build-writes.js';
import { finishBuildIn } from './finish-build.js';
import { loseBuilds } from './lose-builds.js';

/** {@link AgentsPort} over SQL: the `agents` table and the builds' `lease_expires_at`. */
export class SqlAgents implements AgentsPort {
  constructor(private readonly conn: SqlConnection) {}

  async recordAgent(
    agent: Pick<AgentRecord, 'name' | 'labels' | 'slots' | 'version'>,
    now: number,
  ): Promise<void> {
    const labels = agent.labels.join(',');
    await this.conn.db
      .insertInto('agents')
      .values({
        name: agent.name,
        labels,
        slots: agent.slots,
        version: agent.version,
        first_seen_at: now,
        last_heartbeat_at: now,
      })
      .onConflict((oc) =>
        oc.column('name').doUpdateSet({
          labels,
          slots: agent.slots,
          version: agent.version,
          last_heartbeat_at: now,
        }),
      )
      .execute();
  }

  async listAgents(): Promise<AgentRecord[]> {
    const rows = await this.conn.db.selectFrom('agents').selectAll().orderBy('name').execute();
    return rows.map((r) => ({
      name: r.name,
      labels: r.labels === '' ? [] : r.labels.split(','),
      slots: Number(r.slots),
      version: r.version,
      firstSeenAt: Number(r.first_seen_at),
      lastHeartbeatAt: Number(r.last_heartbeat_at),
    }));
  }

  async leasedBuilds(): Promise<LeasedBuild[]> {
    const rows = await this.conn.db
      .selectFrom('builds')
      .select(['id', 'job', 'worker', 'lease_expires_at'])
      .where('state', '=', 'running')
      .where('lease_expires_at', 'is not', null)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({
      id: Number(r.id),
      job: r.job,
      worker: r.worker ?? '',
      leaseExpiresAt: Number(r.lease_expires_at),
    }));
  }

  async renewLeases(worker: string, ids: readonly number[], until: number): Promise<number[]> {
    if (ids.length === 0) return [];
    const rows = await this.conn.db
      .updateTable('builds')
      .set({ lease_expires_at: until })
      .where('id', 'in', ids)
      .where('state', '=', 'running')
      .where('worker', '=', worker)
      .where('lease_expires_at', 'is not', null)
      .returning('id')
      .execute();
    return rows.map((r) => Number(r.id));
  }

  handBackClaims(worker: string, running: readonly number[], now: number): Promise<Build[]> {
    return this.conn.transaction(async (trx) => {
      let query = trx
        .updateTable('builds')
        .set({ state: 'queued', started_at: null, worker: null, lease_expires_at: null })
        .where('state', '=', 'running')
        .where('worker', '=', worker)
        .where('lease_expires_at', 'is not', null);
      if (running.length > 0) query = query.where('id', 'not in', running);
      const rows = await query.returning('id').execute();
      const back: Build[] = [];
      for (const id of rows.map((r) => Number(r.id)).sort((a, b) => a - b)) {
        await writeOutbox(trx, id, 'queued', now);
        back.push(await loadBuild(trx, id));
      }
      return back;
    });
  }

  async extendAllLeases(until: number): Promise<void> {
    await this.conn.db
      .updateTable('builds')
      .set({ lease_expires_at: until })
      .where('state', '=', 'running')
      .where('lease_expires_at', '<', until)
      .execute();
  }

  finishLeased(id: number, worker: string, run: FinishedRun, now: number): Promise<Build | null> {
    return this.conn.transaction(async (trx) => {
      // A no-op UPDATE rather than a SELECT: it takes the row lock, so on PostgreSQL a lease sweep
      // or a cancel committing meanwhile is waited for and re-checked, never overwritten.
      const held = await trx
        .updateTable('builds')
        .set({ lease_expires_at: now })
        .where('id', '=', id)
        .where('state', '=', 'running')
        .where('worker', '=', worker)
        .where('lease_expires_at', 'is not', null)
        .executeTakeFirst();
      if (Number(held.numUpdatedRows) === 0) {
        // The same result sent again because the first commit's answer was lost (a database
        // restart, an agent's acknowledgement cut off): that recorded ending stands and is the
        // answer. A build swept meanwhile (`lost: …`) or run by another worker is refused.
        const row = await trx
          .selectFrom('builds')
          .select(['worker', 'finished_at', 'reason'])
          .where('id', '=', id)
          .executeTakeFirst();
        const ownEnding =
          row?.worker === worker &&
          row.finished_at !== null &&
          !(row.reason ?? '').startsWith('lost:');
        return ownEnding ? loadBuild(trx, id) : null;
      }
      return finishBuildIn(trx, this.conn, id, run, now);
    });
  }

  expireLeases(now: number, maxAttempts: number): Promise<{ lost: Build[]; requeued: Build[] }> {
    return this.conn.transaction(async (trx) => {
      const expired = await trx
        .selectFrom('builds')
        .selectAll()
        .where('state', '=', 'running')
        .where('lease_expires_at', '<', now)
        .orderBy('id')
        .execute();
      // A lease is held by an agent or by a server replica running the build on its own slots.
      const workers = [...new Set(expired.map((r) => r.worker ?? ''))];
      const agents =
        workers.length === 0
          ? new Set<string>()
          : new Set(
              (
                await trx.selectFrom('agents').select('name').where('name', 'in', workers).execute()
              ).map((r) => r.name),
            );
      return loseBuilds(
        trx,
        this.conn,
        expired,
        (row) =>
          `lost: ${agents.has(row.worker ?? '') ? 'agent' : 'replica'} ${row.worker ?? '?'} stopped renewing its lease`,
        now,
        maxAttempts,
      );
    });
  }
}
