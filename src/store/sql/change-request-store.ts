import type { Kysely, Selectable } from 'kysely';
import type { ChangeRequest, Forge } from '../../core/change-request.js';
import type { Approval, ChangeRequestPort } from '../ports/change-requests.js';
import type { DdlDialect } from '../migrations.js';
import type { SqlConnection } from './connection.js';

/** The tables of migration 0009, typed for this store only (kept out of the shared schema). */
export interface ChangeRequestTables {
  change_requests: {
    source: string;
    number: number;
    forge: string;
    title: string;
    author: string;
    target: string;
    head_sha: string;
    fork: number;
    state: string;
    url: string | null;
    updated_at: number;
  };
  approvals: {
    source: string;
    number: number;
    sha: string;
    approved_by: string;
    approved_at: number;
  };
}

/** Migration `0009-change-requests`: requests as forges last described them, approvals per head. */
export async function changeRequestTables(db: Kysely<unknown>, d: DdlDialect): Promise<void> {
  await db.schema
    .createTable('change_requests')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('forge', 'text', (c) => c.notNull())
    .addColumn('title', 'text', (c) => c.notNull())
    .addColumn('author', 'text', (c) => c.notNull())
    .addColumn('target', 'text', (c) => c.notNull())
    .addColumn('head_sha', 'text', (c) => c.notNull())
    .addColumn('fork', 'integer', (c) => c.notNull())
    .addColumn('state', 'text', (c) => c.notNull())
    .addColumn('url', 'text')
    .addColumn('updated_at', d.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('change_requests_pk', ['source', 'number'])
    .execute();
  await db.schema
    .createTable('approvals')
    .addColumn('source', 'text', (c) => c.notNull())
    .addColumn('number', 'integer', (c) => c.notNull())
    .addColumn('sha', 'text', (c) => c.notNull())
    .addColumn('approved_by', 'text', (c) => c.notNull())
    .addColumn('approved_at', d.bigint, (c) => c.notNull())
    .addPrimaryKeyConstraint('approvals_pk', ['source', 'number', 'sha'])
    .execute();
}

/** {@link ChangeRequestPort} over the same Kysely database as `SqlStore` (every SQL backend). */
export class SqlChangeRequestStore implements ChangeRequestPort {
  private readonly db: Kysely<ChangeRequestTables>;

  /** `db` is the store's Kysely instance; these tables are typed here, not in the shared schema. */
  constructor(conn: SqlConnection) {
    // Its tables are typed here, not in the shared schema (migration 0009 owns them).
    this.db = conn.db as unknown as Kysely<ChangeRequestTables>;
  }

  async recordRequest(r: ChangeRequest): Promise<void> {
    const row = {
      source: r.source,
      number: r.number,
      forge: r.forge,
      title: r.title,
      author: r.author,
      target: r.target,
      head_sha: r.headSha,
      fork: r.fork ? 1 : 0,
      state: r.state,
      url: r.url,
      updated_at: r.updatedAt,
    };
    // A late delivery must not roll a request back to an older description.
    await this.db
      .insertInto('change_requests')
      .values(row)
      .onConflict((oc) =>
        oc
          .columns(['source', 'number'])
          .doUpdateSet(row)
          .where('change_requests.updated_at', '<=', r.updatedAt),
      )
      .execute();
  }

  async getRequest(source: string, number: number): Promise<ChangeRequest | null> {
    const row = await this.db
      .selectFrom('change_requests')
      .selectAll()
      .where('source', '=', source)
      .where('number', '=', number)
      .executeTakeFirst();
    return row ? toRequest(row) : null;
  }

  async listRequests(filter: {
    source?: string;
    state?: ChangeRequest['state'];
  }): Promise<ChangeRequest[]> {
    let q = this.db.selectFrom('change_requests').selectAll();
    if (filter.source !== undefined) q = q.where('source', '=', filter.source);
    if (filter.state !== undefined) q = q.where('state', '=', filter.state);
    const rows = await q.orderBy('source').orderBy('number').limit(1000).execute();
    return rows.map(toRequest);
  }

  async approve(a: Approval): Promise<Approval> {
    await this.db
      .insertInto('approvals')
      .values({
        source: a.source,
        number: a.number,
        sha: a.sha,
        approved_by: a.by,
        approved_at: a.at,
      })
      .onConflict((oc) => oc.columns(['source', 'number', 'sha']).doNothing())
      .execute();
    return (await this.approvalOf(a.source, a.number, a.sha)) ?? a;
  }

  async approvalOf(source: string, number: number, sha: string): Promise<Approval | null> {
    const row = await this.db
      .selectFrom('approvals')
      .selectAll()
      .where('source', '=', source)
      .where('number', '=', number)
      .where('sha', '=', sha)
      .executeTakeFirst();
    return row
      ? {
          source: row.source,
          number: Number(row.number),
          sha: row.sha,
          by: row.approved_by,
          at: Number(row.approved_at),
        }
      : null;
  }
}

function toRequest(row: Selectable<ChangeRequestTables['change_requests']>): ChangeRequest {
  return {
    source: row.source,
    number: Number(row.number),
    forge: row.forge as Forge,
    title: row.title,
    author: row.author,
    target: row.target,
    headSha: row.head_sha,
    fork: Number(row.fork) === 1,
    state: row.state as ChangeRequest['state'],
    url: row.url,
    updatedAt: Number(row.updated_at),
  };
}
