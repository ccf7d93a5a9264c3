import type { IncomingHttpHeaders } from 'node:http';
import type { GitSource } from '../../core/pipeline.js';
import type { ForgeDriver } from './forge-driver.js';
import type { SignatureFailure } from './signature.js';

export type AuthResult =
  | { readonly ok: true; readonly sources: GitSource[] }
  | { readonly ok: false; readonly reason: SignatureFailure; readonly message: string };

/**
 * The sources a delivery is authentic for: those whose `webhook_secret` verifies it. Several
 * sources may follow one repository with different secrets (one forge webhook each); each is
 * only fed by deliveries signed with its own. A source without a secret takes no webhooks.
 */
export function authenticate(
  driver: ForgeDriver,
  headers: IncomingHttpHeaders,
  raw: Buffer,
  candidates: readonly GitSource[],
  repo: string,
): AuthResult {
  const ok: GitSource[] = [];
  let missing = false;
  let withSecret = 0;
  for (const s of candidates) {
    if (s.webhookSecret === null) continue;
    withSecret += 1;
    const verdict = driver.verify(headers, raw, s.webhookSecret);
    if (verdict === 'ok') ok.push(s);
    if (verdict === 'missing') missing = true;
  }
  if (ok.length > 0) return { ok: true, sources: ok };
  if (withSecret === 0) {
    const names = candidates.map((s) => s.name).join(', ');
    return {
      ok: false,
      reason: 'no-secret',
      message: `webhooks are rejected for ${names}: set webhook_secret on the source to accept them`,
    };
  }
  return missing
    ? {
        ok: false,
        reason: 'missing',
        message: `missing ${driver.name} signature (${SIGNATURE_HEADERS[driver.name]})`,
      }
    : {
        ok: false,
        reason: 'mismatch',
        message: `the ${driver.name} signature does not match the webhook_secret of any source following ${repo}`,
      };
}

const SIGNATURE_HEADERS: Readonly<Record<ForgeDriver['name'], string>> = {
  github: 'X-Hub-Signature-256',
  gitlab: 'X-Gitlab-Token',
  gitea: 'X-Gitea-Signature or X-Forgejo-Signature',
};
