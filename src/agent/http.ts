import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface HttpCall {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: Buffer | (() => Readable);
  /** Time to establish the TCP (and TLS) connection. */
  readonly connectTimeoutMs: number;
  /** Time for the whole exchange, body included. */
  readonly totalTimeoutMs: number;
  /** A 200 answer's body goes here instead of into memory (blob downloads). */
  readonly sink?: () => Writable;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: Buffer;
}

/** The server could not be reached or did not answer in time; worth retrying elsewhere. */
export class NetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NetworkError';
  }
}

/**
 * One HTTP exchange with a connect timeout and a total timeout (a firewall that drops packets
 * fails the call in `connectTimeoutMs`, a server that stalls in `totalTimeoutMs`). Never retries;
 * the caller decides.
 */
export function exchange(call: HttpCall): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const send = call.url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(call.url, { method: call.method, headers: call.headers });
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(total);
      clearTimeout(connect);
      req.destroy();
      reject(err);
    };
    const total = setTimeout(
      () =>
        fail(
          new NetworkError(
            `${call.method} ${call.url.pathname}: no answer within ${call.totalTimeoutMs} ms`,
          ),
        ),
      call.totalTimeoutMs,
    );
    const connect = setTimeout(
      () =>
        fail(
          new NetworkError(
            `connecting to ${call.url.host}: timed out after ${call.connectTimeoutMs} ms`,
          ),
        ),
      call.connectTimeoutMs,
    );
    req.on('socket', (socket) => {
      if (!socket.connecting) clearTimeout(connect);
      else
        socket.once(call.url.protocol === 'https:' ? 'secureConnect' : 'connect', () =>
          clearTimeout(connect),
        );
    });
    req.on('error', (err) =>
      fail(
        new NetworkError(`${call.method} ${call.url.host}${call.url.pathname}: ${err.message}`, {
          cause: err,
        }),
      ),
    );
    req.on('response', (res: IncomingMessage) => {
      const done = (body: Buffer) => {
        if (settled) return;
        settled = true;
        clearTimeout(total);
        clearTimeout(connect);
        resolve({ status: res.statusCode ?? 0, body });
      };
      if (call.sink && res.statusCode === 200) {
        pipeline(res, call.sink()).then(
          () => done(Buffer.alloc(0)),
          (err: Error) =>
            fail(new NetworkError(`download interrupted: ${err.message}`, { cause: err })),
        );
        return;
      }
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => done(Buffer.concat(parts)));
      res.on('error', (err) =>
        fail(new NetworkError(`reading the answer: ${err.message}`, { cause: err })),
      );
    });
    const body = call.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else
      pipeline(body(), req).catch((err: Error) =>
        fail(new NetworkError(`sending: ${err.message}`, { cause: err })),
      );
  });
}
