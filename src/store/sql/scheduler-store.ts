import { COUNTED_STATES } from '../../core/build.js';
import { sql } from 'kysely';
import type { Ancestry, SchedulerEvent } from '../../core/event.js';
import type { JobName } from '../../core/pipeline.js';
import type { Decision } from '../../core/scheduler/index.js';
import type { AppliedDecisions, DecisionWriter, SchedulerPort, SchedulerState } from '../ports.js';
import type { Db, SqlConnection } from './connection.js';
import { applyEventDecisions, countReceived, type ReceivedCounts } from './decision-writer.js';
import {
  ImmediateSender,
  PipelinedSender,
  SequentialSender,
  type StatementSender,
} from './statement-sender.js';
import { insertEvent } from './inbox-store.js';
import { toBuildRef, toHead, toSchedulerEvent } from './rows.js';
import { headRows } from './source-store.js';

/** {@link SchedulerPort}: what the scheduler loop loads, drains and writes. */
export class SqlScheduler implements SchedulerPort {
  constructor(private readonly conn: SqlConnection) {}

  async loadSchedulerState(): Promise<SchedulerState> {
    const { db } = this.conn;
    const heads = await headRows(db).execute();
    const counted = await db
      .selectFrom('builds')
      .select(['id', 'job', 'state', 'fingerprint', 'forced', 'concurrency_group'])
      .where('state', 'in', COUNTED_STATES)
      .orderBy('id')
      .execute();
    const last = await db
      .selectFrom('builds')
      .select(['job', 'definition_hash'])
      .where('id', 'in', (q) =>
        q
          .selectFrom('builds')
          .select((eb) => eb.fn.max('id').as('id'))
          .where('state', '!=', 'skipped')
          .groupBy('job'),
      )
      .execute();
    const settles = await db.selectFrom('pending_settles').selectAll().execute();
    const refs = counted.map(toBuildRef);
    return {
      heads: heads.map(toHead),
      activeBuilds: refs.filter((b) => b.state === 'queued' || b.state === 'running'),
      builtFingerprints: refs,
      lastDefinitionHash: new Map(last.map((r) => [r.job, r.definition_hash])),
      pendingSettles: settles.map((s) => ({ job: s.job, dueAt: Number(s.due_at) })),
    };
  }

  async pendingEvents(limit: number): Promise<SchedulerEvent[]> {
    const { rows } = await this.conn.run(hot.pendingEvents, { limit });
    return rows.map(toSchedulerEvent);
  }

  applyDecisions(
    event: SchedulerEvent,
    decisions: readonly Decision[],
    now: number,
  ): Promise<AppliedDecisions> {
    return this.batchDecisions((w) => w.applyDecisions(event, decisions, now));
  }

  /**
   * One transaction for several events' decisions. Most of an event's cost is its commit (the
   * pages it touches are written to the WAL): consecutive events touch the same pages, so a
   * batch writes them once (bench/RESULTS.md, "Ingest").
   */
  batchDecisions<T>(work: (writer: DecisionWriter) => Promise<T>): Promise<T> {
    const { shapes, dialect, db } = this.conn;
    const decideWith = async (sender: StatementSender) => {
      const received: ReceivedCounts = new Map();
      try {
        const result = await work({
          applyDecisions: (event, decisions, now) =>
            applyEventDecisions(sender, dialect, event, decisions, now, received),
        });
        countReceived(sender, received);
        await sender.drain();
        return result;
      } catch (err) {
        // Nothing sent after the failure may take effect (and on SQLite, none may still be
        // waiting to run when the transaction rolls back).
        await sender.abort(err);
        throw err;
      }
    };
    // PostgreSQL: two waits for the server per event (what the writes depend on, then the
    // writes; BEGIN and COMMIT ride along), not one per statement. SQLite: the same statements,
    // one after the other, each run as it is sent where the store can (`Dialect.runNow`).
    const { pipelined } = dialect;
    if (pipelined)
      return pipelined.run((wire) => decideWith(new PipelinedSender(shapes, db, wire, dialect)));
    return this.conn.transaction((trx) =>
      decideWith(
        dialect.runNow
          ? new ImmediateSender(shapes, trx, dialect)
          : new SequentialSender(shapes, trx, dialect),
      ),
    );
  }

  async recordAncestry(eventId: number, ancestry: Ancestry, note: string | null): Promise<void> {
    await this.conn.transaction(async (trx) => {
      const row = await trx
        .selectFrom('events')
        .select('detail')
        .where('id', '=', eventId)
        .executeTakeFirst();
      if (row === undefined) return; // removed by retention meanwhile
      const detail = (row.detail ? JSON.parse(row.detail) : {}) as Record<string, unknown>;
      await trx
        .updateTable('events')
        .set({ detail: JSON.stringify({ ...detail, ancestry }) })
        .where('id', '=', eventId)
        .execute();
      if (note === null) return;
      await trx
        .updateTable('decisions')
        .set({ detail: sql<string>`detail || ${` — ${note} (known once the commit was fetched)`}` })
        .where('event_id', '=', eventId)
        .where('rule', '=', 'new-version')
        .execute();
    });
  }

  async takeDueSettles(now: number): Promise<JobName[]> {
    // The scheduler asks on every wake and nearly always nothing is due: answer that with one
    // read instead of a transaction (which cost ~0.3 ms of CPU per scheduled event).
    const { rows: any } = await this.conn.run(hot.dueSettles, { now });
    if (any.length === 0) return [];
    return this.conn.transaction(async (trx) => {
      const { rows: due } = await this.conn.run(hot.dueSettles, { now }, trx);
      if (due.length === 0) return [];
      const jobs = due.map((d) => d.job);
      await trx.deleteFrom('pending_settles').where('job', 'in', jobs).execute();
      for (const job of jobs) {
        await insertEvent(trx, { kind: 'settle', job, receivedAt: now }, this.conn.shapes);
      }
      return jobs;
    });
  }
}

/** The scheduler's hot statements (see `Shapes`). */
const hot = {
  pendingEvents: (db: Db, p: { limit: number }) =>
    db
      .selectFrom('events')
      .selectAll()
      .where('processed_at', 'is', null)
      .orderBy('id')
      .limit(p.limit),
  dueSettles: (db: Db, p: { now: number }) =>
    db.selectFrom('pending_settles').select('job').where('due_at', '<=', p.now),
};
