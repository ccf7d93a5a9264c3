import type { IncomingHttpHeaders } from 'node:http';
import type { SourceDef } from '../../core/pipeline.js';
import type { NewEvent } from '../../store/ports.js';
import { header } from '../webhooks/forge-driver.js';
import { followsRef, refName } from '../webhooks/match-sources.js';
import { hmacSha256Matches, stripSha256Prefix, type Verdict } from '../webhooks/signature.js';
import type { GenericNotice } from './payload.js';

const GENERIC_SIGNATURE_HEADER = 'x-nightless-signature-256';
const GENERIC_DELIVERY_HEADER = 'x-nightless-delivery';

/** `X-Nightless-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the source's webhook_secret>`. */
export function verifyGeneric(headers: IncomingHttpHeaders, raw: Buffer, secret: string): Verdict {
  const presented = header(headers, GENERIC_SIGNATURE_HEADER);
  if (presented === null) return 'missing';
  const hex = stripSha256Prefix(presented);
  return hex !== null && hmacSha256Matches(raw, secret, hex) ? 'ok' : 'mismatch';
}

export function genericDeliveryId(headers: IncomingHttpHeaders): string | null {
  return header(headers, GENERIC_DELIVERY_HEADER);
}

/** What a verified generic notice asks for. */
export type GenericPlan =
  | { readonly kind: 'event'; readonly event: NewEvent }
  | { readonly kind: 'poll'; readonly source: string }
  | { readonly kind: 'ignored'; readonly reason: string }
  | { readonly kind: 'invalid'; readonly message: string };

/** The secret a source's webhooks are signed with; `null` = it takes no webhooks. */
export function webhookSecretOf(def: SourceDef): string | null {
  return def.kind === 'git' || def.kind === 'http' ? def.webhookSecret : null;
}

/**
 * Maps a notice for `def` to an event. git: `version` is the commit and `ref` the branch
 * (`main` or `refs/heads/main`; optional when the source follows exactly one literal branch).
 * http: a version is taken as is; without one the source is checked now. amqp sources have no
 * `webhook_secret` and job outputs come from builds, so neither gets here.
 */
export function planGeneric(
  notice: GenericNotice,
  def: SourceDef,
  ctx: { deliveryId: string | null; receivedAt: number },
): GenericPlan {
  const event = (version: string, ref: string | null): GenericPlan => ({
    kind: 'event',
    event: {
      kind: 'source',
      source: def.name,
      version,
      ref,
      origin: 'webhook',
      deliveryId: ctx.deliveryId === null ? null : `generic:${ctx.deliveryId}/${def.name}`,
      changedPaths: notice.changedPaths,
      producedBy: null,
      receivedAt: ctx.receivedAt,
    },
  });
  if (def.kind === 'http') {
    return notice.version === null
      ? { kind: 'poll', source: def.name }
      : event(notice.version, null);
  }
  if (def.kind !== 'git')
    return {
      kind: 'invalid',
      message: `source "${def.name}" (${def.kind}) does not take webhooks`,
    };
  if (notice.version === null)
    return {
      kind: 'invalid',
      message: `source "${def.name}" is a git source: "version" (the commit) is required`,
    };
  let ref = notice.ref;
  if (ref === null) {
    const only =
      def.branches.length === 1 && !/[*?[\]{}!]/.test(def.branches[0] ?? '*')
        ? def.branches[0]
        : undefined;
    if (only === undefined)
      return {
        kind: 'invalid',
        message: `source "${def.name}" follows several branches: "ref" is required`,
      };
    ref = only;
  }
  const named = ref.startsWith('refs/')
    ? refName(ref)
    : { name: ref, tag: ref.startsWith('tags/') };
  if (named === null)
    return { kind: 'invalid', message: `"ref" ${ref} is neither a branch nor a tag` };
  if (!followsRef(def, named.name, named.tag))
    return { kind: 'ignored', reason: `source "${def.name}" does not follow ${named.name}` };
  return event(notice.version, named.name);
}
