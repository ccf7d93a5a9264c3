import type { ApiClient } from './client.js';

interface RequestRow {
  readonly source: string;
  readonly number: number;
  readonly headSha: string;
}

const REQUEST = /^(?:([^:@\s]+):)?pr\/([1-9][0-9]{0,9})$/;

/**
 * `pr/42` or `app:pr/42` → `app@<head commit>` (what `trace` follows), asking the server which
 * source has the request and where its head is now; `null` when `text` names no request.
 */
export async function requestAsVersion(client: ApiClient, text: string): Promise<string | null> {
  const m = REQUEST.exec(text);
  if (!m) return null;
  const number = Number(m[2]);
  const { requests } = await client.getJson<{ requests: RequestRow[] }>(
    '/api/requests',
    m[1] === undefined ? {} : { source: m[1] },
  );
  const found = requests.filter((r) => r.number === number);
  if (found.length === 0) throw new Error(`no change request ${text} is known`);
  if (found.length > 1)
    throw new Error(
      `pr/${number} exists in ${found.map((r) => r.source).join(', ')}: say which, e.g. ${found[0]?.source}:pr/${number}`,
    );
  const r = found[0] as RequestRow;
  return `${r.source}@${r.headSha}`;
}
