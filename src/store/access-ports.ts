import type { Scope } from '../core/access.js';

/** A stored API token: never its secret, only the secret's sha256. */
export interface TokenRecord {
  readonly name: string;
  readonly scopes: readonly Scope[];
  /** Hex sha256 of the whole token (`nl_…`). */
  readonly sha256: string;
  readonly createdAt: number;
  readonly expiresAt: number | null;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
  /** Name of the token that created it (`bootstrap` for the data directory's admin token). */
  readonly createdBy: string;
}

export interface AuditEntry {
  readonly at: number;
  /** Token name, `bootstrap`, or `anonymous` when the call carried none (refused). */
  readonly actor: string;
  readonly address: string;
  /** `POST /api/jobs/:job/trigger`: the route, so entries group by action. */
  readonly action: string;
  /** The route's parameters (`{"job":"build"}`), JSON. */
  readonly target: string;
  readonly status: number;
  /** The error code of a refused or failed call (`NL_FORBIDDEN`), null when it succeeded. */
  readonly errorCode: string | null;
}

export interface AuditRecord extends AuditEntry {
  readonly id: number;
}

/**
 * Tokens and the audit trail (`docs/security.md`). Every method is one statement; the server's
 * auth hook calls `findTokenBySha256` on each authenticated request (an indexed lookup).
 */
export interface AccessPort {
  /**
   * Throws `TokenNameTaken` when an active (or expired, not revoked) token has the name; a revoked
   * token's name is reused (its row replaced).
   */
  createToken(token: Omit<TokenRecord, 'lastUsedAt' | 'revokedAt'>): Promise<void>;
  findTokenBySha256(sha256: string): Promise<TokenRecord | null>;
  /** Newest first; revoked tokens included (they show as revoked). */
  listTokens(): Promise<TokenRecord[]>;
  /** True when a token of that name existed and was not revoked yet. */
  revokeToken(name: string, now: number): Promise<boolean>;
  touchToken(name: string, now: number): Promise<void>;
  appendAudit(entry: AuditEntry): Promise<void>;
  /** Newest first. */
  listAudit(query: { readonly since?: number; readonly limit: number }): Promise<AuditRecord[]>;
  /** Deletes entries older than `before`; returns how many. */
  pruneAudit(before: number): Promise<number>;
}

export class TokenNameTaken extends Error {
  constructor(readonly tokenName: string) {
    super(`a token named "${tokenName}" exists already (revoke it first, or pick another name)`);
    this.name = 'TokenNameTaken';
  }
}
