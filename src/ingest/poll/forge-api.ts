import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Forge, ForgeApi } from '../../core/change-request.js';
import { redactText } from '../../core/redact.js';
import { pinnedLookup, vetHost } from '../../net/outbound-guard.js';

/** An open change request as the forge's REST API lists it. */
export interface OpenRequest {
  readonly number: number;
  readonly headSha: string;
  readonly target: string;
  readonly title: string;
  readonly author: string;
  readonly fork: boolean;
  readonly url: string | null;
}

/** Bodies larger than this are refused: a page of 100 requests is far smaller. */
const MAX_BYTES = 8 * 1024 * 1024;

/**
 * Lists the open requests of `api.project` (the first page: 100 on GitHub and GitLab, 50 on
 * Gitea — the newest, which is what a missed webhook concerns). The request passes the outbound
 * guard (`allow_private` for a forge on a private address); `timeoutMs` bounds connect and
 * answer together; the token goes in the forge's own header and never into messages.
 */
export async function listOpenRequests(
  forge: Forge,
  api: ForgeApi,
  timeoutMs: number,
): Promise<OpenRequest[]> {
  const base = api.baseUrl.replace(/\/+$/, '');
  const project = forge === 'gitlab' ? encodeURIComponent(api.project) : api.project;
  const url =
    forge === 'github'
      ? `${base}/repos/${project}/pulls?state=open&per_page=100`
      : forge === 'gitlab'
        ? `${base}/projects/${project}/merge_requests?state=opened&per_page=100`
        : `${base}/repos/${project}/pulls?state=open&limit=50`;
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'nightless' };
  if (api.token !== null) {
    if (forge === 'github') headers['authorization'] = `Bearer ${api.token}`;
    else if (forge === 'gitlab') headers['private-token'] = api.token;
    else headers['authorization'] = `token ${api.token}`;
  }
  const body = await getJson(url, headers, api.allowPrivate, timeoutMs);
  if (!Array.isArray(body)) throw new Error(`GET ${redactText(url)}: not a list of requests`);
  return body.flatMap((item: unknown) => {
    const r = toOpenRequest(forge, item);
    return r === null ? [] : [r];
  });
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null ? (v as Json) : {});
const str = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v : null);

function toOpenRequest(forge: Forge, item: unknown): OpenRequest | null {
  const r = obj(item);
  if (forge === 'gitlab') {
    const sha = str(r['sha']);
    const target = str(r['target_branch']);
    if (typeof r['iid'] !== 'number' || sha === null || target === null) return null;
    return {
      number: r['iid'],
      headSha: sha,
      target,
      title: str(r['title']) ?? '',
      author: str(obj(r['author'])['username']) ?? '',
      fork: r['source_project_id'] !== r['target_project_id'],
      url: str(r['web_url']),
    };
  }
  const head = obj(r['head']);
  const baseRef = obj(r['base']);
  const sha = str(head['sha']);
  const target = str(baseRef['ref']);
  if (typeof r['number'] !== 'number' || sha === null || target === null) return null;
  const fork =
    forge === 'github'
      ? head['repo'] === null ||
        str(obj(head['repo'])['full_name']) !== str(obj(baseRef['repo'])['full_name'])
      : head['repo_id'] !== baseRef['repo_id'];
  return {
    number: r['number'],
    headSha: sha,
    target,
    title: str(r['title']) ?? '',
    author: str(obj(r['user'])['login']) ?? '',
    fork,
    url: str(r['html_url']),
  };
}

async function getJson(
  url: string,
  headers: Record<string, string>,
  allowPrivate: boolean,
  timeoutMs: number,
): Promise<unknown> {
  const shown = redactText(url);
  const u = new URL(url);
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const addresses = await vetHost(
      u.hostname,
      { allowPrivate, allowHint: 'allow_private: true under change_requests' },
      timeoutMs,
    );
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    const text = await new Promise<string>((resolve, reject) => {
      const req = send(u, {
        method: 'GET',
        headers,
        lookup: pinnedLookup(addresses),
        agent: false,
        signal,
      });
      req.on('error', reject);
      req.on('response', (res) => {
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          res.resume();
          reject(new Error(`answered ${status}`));
          return;
        }
        let size = 0;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          size += c.byteLength;
          if (size > MAX_BYTES) res.destroy(new Error(`body over ${MAX_BYTES} bytes`));
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      });
      req.end();
    });
    return JSON.parse(text) as unknown;
  } catch (err) {
    if (signal.aborted)
      throw new Error(`GET ${shown} timed out after ${timeoutMs} ms`, { cause: err });
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`GET ${shown} failed: ${why}`, { cause: err });
  }
}
