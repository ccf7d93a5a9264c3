import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { redactText } from '../../core/redact.js';
import { pinnedLookup, vetHost, type OutboundPolicy } from '../../net/outbound-guard.js';

export interface HttpVersion {
  readonly version: string;
  readonly etag: string | null;
}

const MAX_REDIRECTS = 5;

/**
 * One conditional GET: `null` when the server says 304 (unchanged). The version is the ETag,
 * or the sha256 of the body when the server sends none. Bodies over `maxBytes` are refused.
 * Every hop (the URL, then up to 5 redirects) passes the outbound guard before any connection
 * (`RefusedTargetError` for a refused address); request headers go to redirects on the same
 * origin only, as `fetch` does, so an Authorization never leaves for another host.
 * `timeoutMs` bounds the whole check, redirects included.
 */
export async function checkHttp(
  url: string,
  opts: {
    etag: string | null;
    headers: Readonly<Record<string, string>>;
    timeoutMs: number;
    maxBytes: number;
    policy: OutboundPolicy;
  },
): Promise<HttpVersion | null> {
  const deadline = AbortSignal.timeout(opts.timeoutMs);
  const shown = redactText(url);
  const origin = new URL(url).origin;
  let target = new URL(url);
  for (let hop = 0; ; hop++) {
    const headers: Record<string, string> = target.origin === origin ? { ...opts.headers } : {};
    if (opts.etag && target.origin === origin) headers['if-none-match'] = opts.etag;
    const res = await get(target, headers, opts.policy, deadline, opts.timeoutMs).catch(
      (err: unknown) => {
        if (deadline.aborted)
          throw new Error(`GET ${shown} timed out after ${opts.timeoutMs} ms`, { cause: err });
        const why = err instanceof Error ? err.message : String(err);
        const where = hop === 0 ? '' : ` (redirected to ${redactText(target.href)})`;
        throw new Error(`GET ${shown} failed: ${why}${where}`, { cause: err });
      },
    );
    const status = res.statusCode ?? 0;
    if (status >= 300 && status < 400 && status !== 304) {
      res.resume();
      const location = res.headers.location;
      if (location === undefined)
        throw new Error(`GET ${shown} answered ${status} without Location`);
      if (hop + 1 >= MAX_REDIRECTS)
        throw new Error(`GET ${shown}: more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, target);
      if (next.protocol !== 'http:' && next.protocol !== 'https:')
        throw new Error(`GET ${shown} redirected to a ${next.protocol} URL`);
      target = next;
      continue;
    }
    if (status === 304) {
      res.resume();
      return null;
    }
    if (status < 200 || status >= 300) {
      res.resume();
      throw new Error(`GET ${shown} answered ${status}`);
    }
    const etag = res.headers.etag;
    if (etag) {
      res.destroy();
      return { version: etag, etag };
    }
    const hash = createHash('sha256');
    let size = 0;
    try {
      for await (const chunk of res as AsyncIterable<Buffer>) {
        size += chunk.byteLength;
        if (size > opts.maxBytes) throw new Error(`GET ${shown}: body over ${opts.maxBytes} bytes`);
        hash.update(chunk);
      }
    } catch (err) {
      res.destroy();
      if (deadline.aborted)
        throw new Error(`GET ${shown} timed out after ${opts.timeoutMs} ms`, { cause: err });
      throw err;
    }
    return { version: `sha256:${hash.digest('hex')}`, etag: null };
  }
}

/** One GET to the vetted addresses of `u`; resolves with the answer's head, body unread. */
async function get(
  u: URL,
  headers: Record<string, string>,
  policy: OutboundPolicy,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<IncomingMessage> {
  const addresses = await vetHost(u.hostname, policy, timeoutMs);
  signal.throwIfAborted();
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<IncomingMessage>((resolve, reject) => {
    // A connection of its own (agent: false): a pooled socket of the global agent may have been
    // opened for another source under another policy, and checks are minutes apart anyway.
    const req = send(u, {
      method: 'GET',
      headers,
      lookup: pinnedLookup(addresses),
      agent: false,
      signal,
    });
    req.on('error', reject);
    req.on('response', resolve);
    req.end();
  });
}
