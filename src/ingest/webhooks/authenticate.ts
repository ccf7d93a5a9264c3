import type { GitSource, SourceDef, SourceName } from '../../core/pipeline.js';
import { webhookSecretOf } from '../generic/webhook.js';
import type { SignatureFailure, Verdict } from './signature.js';

export type Refusal = {
  readonly ok: false;
  readonly reason: SignatureFailure;
  readonly message: string;
};

/** The first gate: which sources' secrets the delivery's signature verifies. */
export type Verified = { readonly ok: true; readonly sources: ReadonlySet<SourceName> } | Refusal;

export type AuthResult = { readonly ok: true; readonly sources: GitSource[] } | Refusal;

export interface VerifyOptions {
  /** What the signature is called in messages (`github signature`, `signature`). */
  readonly signature: string;
  /** Which header(s) carry it, for the "missing" message. */
  readonly signatureHeader: string;
  /** Called for each source whose secret is empty: it is never verified against (log it). */
  readonly onEmptySecret: (source: SourceName) => void;
}

/**
 * Verifies a delivery before anything in its body is read: against the `webhook_secret` of
 * every source that has one (`sources`), each distinct secret once. Only a delivery that some
 * secret verifies goes on to be parsed, so an unsigned or wrongly signed body is a 401 whatever
 * it contains (never a 400 that tells a prober how far it got).
 *
 * An empty secret is never used: an HMAC with an empty key is one anyone can compute. `check`
 * refuses such a pipeline; this guards definitions built in code.
 */
export function verifyDelivery(
  verify: (secret: string) => Verdict,
  sources: Iterable<SourceDef>,
  opts: VerifyOptions,
): Verified {
  const bySecret = new Map<string, Verdict>();
  const ok = new Set<SourceName>();
  let missing = false;
  for (const s of sources) {
    const secret = webhookSecretOf(s);
    if (secret === null) continue;
    if (secret === '') {
      opts.onEmptySecret(s.name);
      continue;
    }
    let verdict = bySecret.get(secret);
    if (verdict === undefined) {
      verdict = verify(secret);
      bySecret.set(secret, verdict);
    }
    if (verdict === 'ok') ok.add(s.name);
    if (verdict === 'missing') missing = true;
  }
  if (ok.size > 0) return { ok: true, sources: ok };
  if (bySecret.size === 0)
    return {
      ok: false,
      reason: 'no-secret',
      message:
        'no source takes webhooks: set a (non-empty) webhook_secret on a source to accept them',
    };
  return missing
    ? {
        ok: false,
        reason: 'missing',
        message: `missing ${opts.signature} (${opts.signatureHeader})`,
      }
    : {
        ok: false,
        reason: 'mismatch',
        message: `the ${opts.signature} does not match the webhook_secret of any source`,
      };
}

/**
 * The second gate, once the body names the repository: the sources following it that the
 * delivery is authentic for. Several sources may follow one repository with different secrets
 * (one forge webhook each); each is only fed by deliveries signed with its own, and a delivery
 * signed for one repository's source never feeds another repository's.
 */
export function authenticFor(
  verified: ReadonlySet<SourceName>,
  candidates: readonly GitSource[],
  repo: string,
  forge: string,
): AuthResult {
  const withSecret = candidates.filter((s) => s.webhookSecret !== null && s.webhookSecret !== '');
  if (withSecret.length === 0) {
    const names = candidates.map((s) => s.name).join(', ');
    return {
      ok: false,
      reason: 'no-secret',
      message: `webhooks are rejected for ${names}: set webhook_secret on the source to accept them`,
    };
  }
  const ok = withSecret.filter((s) => verified.has(s.name));
  if (ok.length > 0) return { ok: true, sources: ok };
  return {
    ok: false,
    reason: 'mismatch',
    message: `the ${forge} signature does not match the webhook_secret of any source following ${repo}`,
  };
}
