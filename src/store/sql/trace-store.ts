import { sql } from 'kysely';
import type { TraceObservation } from '../../core/slo/lead-time.js';
import type { TracePort } from '../ports.js';
import type { SqlConnection } from './connection.js';

/** Roots per statement: bounded parameter lists on both backends. */
const CHUNK = 500;

/**
 * {@link TracePort}. A trace is done when one statement sees none of its builds queued or running
 * and none of its output events unprocessed. One statement is one snapshot (SQLite: one writer;
 * PostgreSQL: the statement's snapshot), and every step of a trace changes in one transaction —
 * a build ends together with the output events it announces (`finishBuild`), an output event is
 * decided together with the builds it queues (`applyEventDecisions`) — so a snapshot between two
 * steps still shows the next one open, and "done" is never premature: while a downstream job is
 * still to be decided, the output event feeding it is unprocessed.
 */
export class SqlTraces implements TracePort {
  constructor(private readonly conn: SqlConnection) {}

  async settleTraces(roots: readonly number[]): Promise<TraceObservation[]> {
    const out: TraceObservation[] = [];
    const ids = [...new Set(roots)];
    for (let i = 0; i < ids.length; i += CHUNK) {
      const chunk = ids.slice(i, i + CHUNK);
      const list = sql.join(chunk);
      // Done at the last ending of the trace: its builds' ends and its output events' decisions.
      await sql`update events set trace_done_at = (
          select max(t) from (
            select b.finished_at as t from builds b where b.trace_root = events.id
            union all
            select o.processed_at as t from events o where o.trace_root = events.id
          ) ends)
        where id in (${list}) and trace_done_at is null
          and exists (select 1 from builds b where b.trace_root = events.id)
          and not exists (select 1 from builds b
            where b.trace_root = events.id and b.state in ('queued', 'running'))
          and not exists (select 1 from events o
            where o.trace_root = events.id and o.processed_at is null)`.execute(this.conn.db);
      const rows = await this.conn.db
        .selectFrom('events as e')
        .select(['e.id', 'e.received_at', 'e.trace_done_at'])
        .where('e.id', 'in', chunk)
        .where((eb) =>
          eb.exists(
            eb.selectFrom('builds as b').select('b.id').whereRef('b.trace_root', '=', 'e.id'),
          ),
        )
        .orderBy('e.id')
        .execute();
      for (const r of rows)
        out.push({
          type: 'trace',
          root: Number(r.id),
          receivedAt: Number(r.received_at),
          doneAt: r.trace_done_at === null ? null : Number(r.trace_done_at),
        });
    }
    return out;
  }
}
