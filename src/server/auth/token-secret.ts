import { createHash, randomBytes } from 'node:crypto';
import { TOKEN_PREFIX } from '../../core/access.js';

/** A new token: `nl_` and 32 random bytes in base64url (43 characters). */
export function generateToken(): string {
  return `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
}

/** What the store keeps of a token: its hex sha256. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
