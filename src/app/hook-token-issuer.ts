import { tokenUsable } from '../core/access.js';
import { HookTokenNameTaken, type HookTokenIssuer } from '../ingest/git-hooks/hook-token.js';
import { generateToken, hashToken } from '../server/auth/token-secret.js';
import { TokenNameTaken, type AccessPort } from '../store/access-ports.js';

/** Hook tokens straight in the store, for the server's own repositories (the demo's). */
export function storeHookTokenIssuer(
  access: AccessPort,
  now: () => number = Date.now,
): HookTokenIssuer {
  return {
    async scopesOf(token) {
      const t = await access.findTokenBySha256(hashToken(token));
      return t && tokenUsable(t, now()) ? t.scopes : null;
    },
    async create(name) {
      const token = generateToken();
      try {
        await access.createToken({
          name,
          scopes: ['hook'],
          sha256: hashToken(token),
          createdAt: now(),
          createdBy: 'nightless serve',
          expiresAt: null,
        });
      } catch (err) {
        if (err instanceof TokenNameTaken) throw new HookTokenNameTaken(name);
        throw err;
      }
      return token;
    },
    async revoke(name) {
      await access.revokeToken(name, now());
    },
  };
}
