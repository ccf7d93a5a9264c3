import { createHash } from 'node:crypto';
import { redactText } from '../../core/redact.js';

export interface HttpVersion {
  readonly version: string;
  readonly etag: string | null;
}

/**
 * One conditional GET: `null` when the server says 304 (unchanged). The version is the ETag,
 * or the sha256 of the body when the server sends none. Bodies over `maxBytes` are refused.
 */
export async function checkHttp(
  url: string,
  opts: {
    etag: string | null;
    headers: Readonly<Record<string, string>>;
    timeoutMs: number;
    maxBytes: number;
  },
): Promise<HttpVersion | null> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.etag) headers['if-none-match'] = opts.etag;
  let res: Response;
  try {
    res = await fetch(url, {
      headers,
      redirect: 'follow',
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw new Error(`GET ${redactText(url)} timed out after ${opts.timeoutMs} ms`, {
        cause: err,
      });
    }
    const cause =
      err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
    throw new Error(`GET ${redactText(url)} failed${cause}`, { cause: err });
  }
  if (res.status === 304) return null;
  if (!res.ok) throw new Error(`GET ${redactText(url)} answered ${res.status}`);
  const etag = res.headers.get('etag');
  if (etag) {
    await res.body?.cancel();
    return { version: etag, etag };
  }
  const hash = createHash('sha256');
  let size = 0;
  if (res.body) {
    for await (const chunk of res.body) {
      size += (chunk as Uint8Array).byteLength;
      if (size > opts.maxBytes)
        throw new Error(`GET ${redactText(url)}: body over ${opts.maxBytes} bytes`);
      hash.update(chunk as Uint8Array);
    }
  }
  return { version: `sha256:${hash.digest('hex')}`, etag: null };
}
