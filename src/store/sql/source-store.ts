import type { SourceName } from '../../core/pipeline.js';
import type { SourceHead } from '../../core/scheduler/index.js';
import type { PollRecord, SourcePort } from '../ports.js';
import type { Db, SqlConnection } from './connection.js';
import { toHead } from './rows.js';

/** {@link SourcePort}: what the pipeline loader and the fallback poller keep per source. */
export class SqlSources implements SourcePort {
  constructor(private readonly conn: SqlConnection) {}

  async syncSources(
    sources: ReadonlyArray<{ name: SourceName; kind: string; url: string | null }>,
  ): Promise<void> {
    await this.conn.transaction(async (trx) => {
      for (const s of sources) {
        await trx
          .insertInto('sources')
          .values({ name: s.name, kind: s.kind, url: s.url })
          .onConflict((oc) => oc.column('name').doUpdateSet({ kind: s.kind, url: s.url }))
          .execute();
      }
    });
  }

  async recordPoll(source: SourceName, poll: PollRecord): Promise<void> {
    await this.conn.db
      .updateTable('sources')
      .set((eb) => ({
        last_check_at: poll.at,
        last_check_ok: poll.ok ? 1 : 0,
        last_error: poll.error,
        next_check_at: poll.nextCheckAt,
        poll_failures: poll.ok ? 0 : eb('poll_failures', '+', 1),
        missed_events: poll.missed ? eb('missed_events', '+', 1) : eb.ref('missed_events'),
      }))
      .where('name', '=', source)
      .execute();
  }

  async setNextCheck(source: SourceName, at: number | null): Promise<void> {
    await this.conn.db
      .updateTable('sources')
      .set({ next_check_at: at })
      .where('name', '=', source)
      .execute();
  }

  async sourceHeads(source: SourceName): Promise<SourceHead[]> {
    const rows = await headRows(this.conn.db).where('heads.source', '=', source).execute();
    return rows.map(toHead);
  }
}

/** Heads joined with their versions, in the shape `toHead` reads. */
export function headRows(db: Db) {
  return db
    .selectFrom('heads')
    .innerJoin('versions', 'versions.id', 'heads.version_id')
    .select([
      'versions.id',
      'versions.source',
      'versions.version',
      'versions.ref',
      'versions.event_id',
      'versions.origin',
      'versions.produced_by',
    ]);
}
