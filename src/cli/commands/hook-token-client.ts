import type { Scope } from '../../core/access.js';
import { HookTokenNameTaken, type HookTokenIssuer } from '../../ingest/git-hooks/hook-token.js';
import { ApiClient } from '../client.js';
import { ApiError } from '../errors.js';

/** Hook tokens through the server's API: `admin` creates and revokes, `/api/whoami` checks. */
export function apiHookTokenIssuer(
  baseUrl: string,
  adminToken: string | null,
  timeoutMs: number,
): HookTokenIssuer {
  const client = (token: string | null) => new ApiClient({ baseUrl, token, timeoutMs });
  const admin = client(adminToken);
  return {
    async scopesOf(token) {
      try {
        return (await client(token).getJson<{ scopes: Scope[] }>('/api/whoami')).scopes;
      } catch (err) {
        if (err instanceof ApiError && err.status === 401) return null;
        throw err;
      }
    },
    async create(name) {
      try {
        const body = await admin.postJson<{ token: string }>('/api/tokens', {
          name,
          scopes: ['hook'],
        });
        return body.token;
      } catch (err) {
        if (err instanceof ApiError && err.status === 409) throw new HookTokenNameTaken(name);
        throw err;
      }
    },
    async revoke(name) {
      await admin.deleteJson(`/api/tokens/${encodeURIComponent(name)}`);
    },
  };
}
