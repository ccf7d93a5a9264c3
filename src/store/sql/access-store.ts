import type { Kysely, Selectable } from 'kysely';
import { isScope, type Scope } from '../../core/access.js';
import {
  TokenNameTaken,
  type AccessPort,
  type AuditEntry,
  type AuditRecord,
  type TokenRecord,
} from '../access-ports.js';
import type { Database } from '../schema.js';
import type { SqlConnection } from './connection.js';

/** {@link AccessPort} over the same Kysely database as the other ports (every SQL backend). */
export class SqlAccessStore implements AccessPort {
  private readonly db: Kysely<Database>;

  constructor(private readonly conn: SqlConnection) {
    this.db = conn.db;
  }

  async createToken(token: Omit<TokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void> {
    const row = {
      name: token.name,
      sha256: token.sha256,
      scopes: token.scopes.join(','),
      created_at: token.createdAt,
      created_by: token.createdBy,
      expires_at: token.expiresAt,
      last_used_at: null,
      revoked_at: null,
    };
    // A revoked token's name may be given to a new token; an active one's may not.
    const written = await this.db
      .insertInto('api_tokens')
      .values(row)
      .onConflict((oc) =>
        oc.column('name').doUpdateSet(row).where('api_tokens.revoked_at', 'is not', null),
      )
      .executeTakeFirst();
    if (Number(written.numInsertedOrUpdatedRows ?? 0) === 0) throw new TokenNameTaken(token.name);
  }

  async findTokenBySha256(sha256: string): Promise<TokenRecord | null> {
    const row = await this.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('sha256', '=', sha256)
      .executeTakeFirst();
    return row ? toToken(row) : null;
  }

  async listTokens(): Promise<TokenRecord[]> {
    const rows = await this.db
      .selectFrom('api_tokens')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('name')
      .execute();
    return rows.map(toToken);
  }

  async revokeToken(name: string, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('api_tokens')
      .set({ revoked_at: now })
      .where('name', '=', name)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async touchToken(name: string, now: number): Promise<void> {
    await this.db
      .updateTable('api_tokens')
      .set({ last_used_at: now })
      .where('name', '=', name)
      .execute();
  }

  async appendAudit(e: AuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        at: e.at,
        actor: e.actor,
        address: e.address,
        action: e.action,
        target: e.target,
        status: e.status,
        error_code: e.errorCode,
      })
      .execute();
  }

  async listAudit(query: {
    readonly since?: number;
    readonly limit: number;
  }): Promise<AuditRecord[]> {
    let q = this.db.selectFrom('audit_log').selectAll();
    if (query.since !== undefined) q = q.where('at', '>=', query.since);
    const rows = await q.orderBy('id', 'desc').limit(query.limit).execute();
    return rows.map((r) => ({
      id: Number(r.id),
      at: Number(r.at),
      actor: r.actor,
      address: r.address,
      action: r.action,
      target: r.target,
      status: Number(r.status),
      errorCode: r.error_code,
    }));
  }

  async pruneAudit(before: number): Promise<number> {
    const r = await this.db.deleteFrom('audit_log').where('at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}

function toToken(r: Selectable<Database['api_tokens']>): TokenRecord {
  return {
    name: r.name,
    sha256: r.sha256,
    scopes: r.scopes.split(',').filter((s): s is Scope => isScope(s)),
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  };
}
