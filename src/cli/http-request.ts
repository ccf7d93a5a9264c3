import { request as httpRequest } from 'node:http';

/** What the client reads of a response: `Response` fits it too. */
export interface TextResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  text(): Promise<string>;
}

/** Largest response body read into memory (a JSON answer, never a download). */
const MAX_BODY = 64 * 1024 * 1024;

/**
 * One request over `node:http(s)`, the whole body read as text. The CLI's JSON calls use this
 * instead of `fetch`: loading fetch's implementation (undici and its wasm parser) costs a cold
 * `nightless status` about 100 ms, half of its budget. `signal` bounds connect and the whole
 * exchange; on abort it rejects with the signal's reason (a `TimeoutError` for
 * `AbortSignal.timeout`). Network failures reject with the system error (`code` ECONNREFUSED...).
 */
export async function requestText(
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal: AbortSignal;
  },
): Promise<TextResponse> {
  const target = new URL(url);
  // TLS and crypto are a tenth of a plain-http cold start: loaded only for an https server.
  const send = target.protocol === 'https:' ? (await import('node:https')).request : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(target, { method: init.method, headers: init.headers });
    const onAbort = (): void => {
      req.destroy();
      const reason: unknown = init.signal.reason;
      reject(reason instanceof Error ? reason : new Error('aborted', { cause: reason }));
    };
    if (init.signal.aborted) return onAbort();
    init.signal.addEventListener('abort', onAbort, { once: true });
    const done = (): void => init.signal.removeEventListener('abort', onAbort);
    req.once('error', (err) => {
      done();
      reject(err);
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error(`response larger than ${MAX_BODY} bytes`));
        else chunks.push(c);
      });
      res.once('error', (err) => {
        done();
        reject(err);
      });
      res.once('end', () => {
        done();
        const text = Buffer.concat(chunks).toString('utf8');
        const status = res.statusCode ?? 0;
        resolve({
          ok: status >= 200 && status < 300,
          status,
          statusText: res.statusMessage ?? '',
          text: () => Promise.resolve(text),
        });
      });
    });
    req.end(init.body);
  });
}
