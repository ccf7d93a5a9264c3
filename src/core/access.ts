/**
 * Who may do what (docs/security.md). A token carries one or more scopes; `admin` allows
 * everything. Scopes do not imply one another otherwise: a `hook` token announces pushes and
 * nothing else, a `trigger` token used by a script that also reads needs `read` as well.
 */
export const SCOPES = ['read', 'trigger', 'approve', 'hook', 'agent', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * What a route needs: no credential at all (`public`: health, the OpenAPI document), its own
 * signature check (`signature`: forge webhooks signed with a source's `webhook_secret`), any valid
 * token (`token`: "who am I"), or a scope.
 */
export type RouteAccess = 'public' | 'signature' | 'token' | Scope;

/** Every token starts with this, so secret scanners can recognise a leaked one. */
export const TOKEN_PREFIX = 'nl_';

export function isScope(value: string): value is Scope {
  return (SCOPES as readonly string[]).includes(value);
}

/** True when a holder of `granted` may call a route that needs `needed`. */
export function scopeAllows(granted: readonly Scope[], needed: Scope): boolean {
  return granted.includes('admin') || granted.includes(needed);
}

/** Scopes whose mutating calls are written to the audit trail (operator actions, not events in). */
export const AUDITED_SCOPES: readonly Scope[] = ['trigger', 'approve', 'admin'];

/**
 * A token that is past its expiry or revoked is refused exactly like an unknown one: the answer
 * never tells an attacker that a token exists.
 */
export function tokenUsable(
  token: { readonly expiresAt: number | null; readonly revokedAt: number | null },
  now: number,
): boolean {
  return token.revokedAt === null && (token.expiresAt === null || now < token.expiresAt);
}
