import { useState } from 'preact/hooks';
import { ActionButton } from './actions.js';
import { post } from './api.js';
import type { ApproveResult, Build, ChangeRequest } from './api-types.js';
import { useApi } from './components.js';
import { short } from './format.js';
import { useBuildEvents } from './live.js';

const REQUEST_REF = /^pr\/([1-9][0-9]*)$/;

/** The change-request input of a build (`ref: pr/42`), or `null` for branch and tag builds. */
export function requestInputOf(
  b: Build,
): { source: string; number: number; ref: string; version: string } | null {
  for (const i of b.inputs) {
    const m = i.ref === null ? null : REQUEST_REF.exec(i.ref);
    if (m && i.ref)
      return { source: i.source, number: Number(m[1]), ref: i.ref, version: i.version };
  }
  return null;
}

/**
 * How far a build of a change request is trusted, as far as `GET /api/requests` tells: the API
 * says whether the request's *current* head is approved, so a build of an older head of a fork
 * is `older-head` (its approval is not known here; its log's first lines say). The server's
 * runner decides for real (`runner/build-trust.ts`); this only shows it.
 */
export type Trust = 'own' | 'approved' | 'not-approved' | 'older-head' | 'unknown' | 'loading';

export interface RequestInfo {
  readonly ref: string;
  readonly version: string;
  readonly request: ChangeRequest | null;
  readonly trust: Trust;
}

export function requestInfo(
  b: Build,
  requests: readonly ChangeRequest[] | null,
): RequestInfo | null {
  const input = requestInputOf(b);
  if (!input) return null;
  const request =
    requests?.find((r) => r.source === input.source && r.number === input.number) ?? null;
  const base = { ref: input.ref, version: input.version, request };
  if (!request) return { ...base, trust: requests === null ? 'loading' : 'unknown' };
  if (!request.fork) return { ...base, trust: 'own' };
  if (request.headSha !== input.version) return { ...base, trust: 'older-head' };
  return { ...base, trust: request.approved ? 'approved' : 'not-approved' };
}

/**
 * The change requests the server knows, fetched only when `needed` (a list with a request build
 * in it), and refetched when a build of a request changes: a new request or push shows up live.
 */
export function useRequests(needed: boolean) {
  const res = useApi<{ requests: ChangeRequest[] }>(needed ? '/api/requests' : null);
  useBuildEvents((e) => {
    if (needed && (e.resync || requestInputOf(e.build) !== null)) res.reload();
  });
  return { requests: res.data?.requests ?? null, reload: res.reload, error: res.error };
}

const TRUST_TEXT: Readonly<
  Record<Exclude<Trust, 'loading'>, [icon: string, text: string, warn: boolean]>
> = {
  own: ['⎇', 'same repository', false],
  approved: ['✔', 'fork, approved', false],
  'not-approved': ['⚠', 'fork, not approved', true],
  'older-head': ['⚠', 'fork, earlier head', true],
  unknown: ['⚠', 'unknown origin, untrusted', true],
};

/** `pr/42` plus, for a fork, whether its head is approved (icon + words, never colour alone). */
export function RequestBadge({ info }: { info: RequestInfo }) {
  if (info.trust === 'loading') return <span class="badge">{info.ref}</span>;
  const [icon, text, warn] = TRUST_TEXT[info.trust];
  return (
    <span class="request-badges">
      <span class="badge">{info.ref}</span>
      {info.trust !== 'own' && (
        <span class={`badge ${warn ? 'badge-warn' : 'badge-ok'}`} data-trust={info.trust}>
          <span aria-hidden="true">{icon}</span> {text}
        </span>
      )}
    </span>
  );
}

/**
 * The build page's change-request section: the request as the forge described it, whether this
 * build ran untrusted, and for an unapproved fork head the **Approve** button (scope `approve`).
 */
export function RequestPanel({ info, onApproved }: { info: RequestInfo; onApproved: () => void }) {
  const r = info.request;
  // Kept here, not in the button: the button goes once the reloaded request says "approved".
  const [approved, setApproved] = useState<string | null>(null);
  return (
    <>
      <p>
        {r?.url ? (
          <a href={r.url} rel="noreferrer">
            {info.ref}
          </a>
        ) : (
          <strong>{info.ref}</strong>
        )}
        {r ? (
          <>
            {' '}
            “{r.title}” by {r.author} → {r.target} · {r.state}
          </>
        ) : null}{' '}
        <RequestBadge info={info} />
      </p>
      {info.trust !== 'own' && info.trust !== 'approved' && info.trust !== 'loading' && (
        <p>
          This build ran untrusted: without secrets or publish, sandboxed unless its job says{' '}
          <code>isolation: none</code>, reported by commit status only.{' '}
          {info.trust === 'older-head' && r
            ? `The request has moved on to ${short(r.headSha)}; approve that head from one of its builds.`
            : null}
          {info.trust === 'unknown' ? 'nightless has no record of this request.' : null}
        </p>
      )}
      {info.trust === 'not-approved' && r && (
        <div class="actions">
          <ActionButton
            label="Approve"
            scope="approve"
            run={() =>
              post<ApproveResult>(
                `/api/requests/${encodeURIComponent(r.source)}/${r.number}/approve`,
                { sha: info.version },
              )
            }
            done={(res) => {
              setApproved(
                `approved ${short(res.approval.sha)} by ${res.approval.by}: Rebuild to run it trusted`,
              );
              onApproved();
              return null;
            }}
          />
          <span class="muted">
            after reviewing <span class="mono">{short(info.version)}</span>: it approves this commit
            only, a new push needs a new approval
          </span>
        </div>
      )}
      {approved && <p role="status">{approved}</p>}
    </>
  );
}
