import type { Readable, Writable } from 'node:stream';
import { backoffDelay, type Backoff } from '../core/backoff.js';
import { exchange, NetworkError, type HttpAnswer } from './http.js';

export interface ServerClientOptions {
  /** Base URLs of the server's replicas, in order of preference (`--server`, repeatable). */
  readonly servers: readonly string[];
  /** The agent token (`NIGHTLESS_AGENT_TOKEN`); never logged. */
  readonly token: string;
  readonly connectTimeoutMs?: number;
  readonly backoff?: Backoff;
  readonly random?: () => number;
  /** Told when a call failed and will be retried (on the next server). */
  readonly onRetry?: (what: string, err: string, delayMs: number) => void;
}

export interface Call {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT';
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number>>;
  readonly json?: unknown;
  readonly bytes?: Buffer;
  readonly stream?: () => Readable;
  readonly sink?: () => Writable;
  /** Total time of one attempt. */
  readonly totalTimeoutMs: number;
  /** Attempts before giving up (each failure moves to the next server, after a backoff). */
  readonly attempts: number;
  /** Stop retrying once this is aborted (the agent stops). */
  readonly signal?: AbortSignal;
}

/** A call that got no usable answer from any server after all its attempts. */
export class ServerUnreachable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ServerUnreachable';
  }
}

const RETRY_STATUS = new Set([429, 502, 503, 504]);

/**
 * Talks to the nightless server for the agent: every call has a connect and a total timeout, and
 * network failures, 5xx and 429 answers are retried with backoff and jitter, moving to the next
 * `--server` URL each time (replicas share one database, so any of them will do). 4xx answers
 * are the caller's to read.
 */
export class ServerClient {
  private current = 0;

  constructor(private readonly opts: ServerClientOptions) {
    if (opts.servers.length === 0) throw new Error('give at least one --server URL');
  }

  /** The server the last call went to. */
  get server(): string {
    return this.opts.servers[this.current] ?? '';
  }

  async call(call: Call): Promise<HttpAnswer> {
    let lastError = '';
    for (let attempt = 1; attempt <= call.attempts; attempt++) {
      if (call.signal?.aborted) break;
      const url = new URL(call.path, this.server.endsWith('/') ? this.server : `${this.server}/`);
      for (const [k, v] of Object.entries(call.query ?? {})) url.searchParams.set(k, String(v));
      const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}` };
      let body: Buffer | (() => Readable) | undefined;
      if (call.json !== undefined) {
        headers['content-type'] = 'application/json';
        body = Buffer.from(JSON.stringify(call.json));
      } else if (call.bytes !== undefined || call.stream !== undefined) {
        headers['content-type'] = 'application/octet-stream';
        body = call.bytes ?? call.stream;
      }
      try {
        const answer = await exchange({
          method: call.method,
          url,
          headers,
          ...(body === undefined ? {} : { body }),
          connectTimeoutMs: this.opts.connectTimeoutMs ?? 3000,
          totalTimeoutMs: call.totalTimeoutMs,
          ...(call.sink ? { sink: call.sink } : {}),
        });
        if (answer.status < 500 && !RETRY_STATUS.has(answer.status)) return answer;
        lastError = `${url.host} answered ${answer.status}`;
      } catch (err) {
        if (!(err instanceof NetworkError)) throw err;
        lastError = err.message;
      }
      // Next time (this call's retry or the caller's next single-attempt call: claims and
      // heartbeats loop themselves) the next replica is asked: one that is gone is not retried
      // forever while the others answer.
      this.current = (this.current + 1) % this.opts.servers.length;
      if (attempt === call.attempts) break;
      const delay = backoffDelay(
        attempt,
        this.opts.backoff ?? { initialMs: 250, maxMs: 15_000 },
        this.opts.random ?? Math.random,
      );
      this.opts.onRetry?.(`${call.method} ${call.path}`, lastError, delay);
      await sleep(delay, call.signal);
    }
    throw new ServerUnreachable(`${call.method} ${call.path}: ${lastError || 'stopped'}`);
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done);
  });
}

/** The JSON of an answer, or an error naming the status and the server's message. */
export function jsonOf<T>(answer: HttpAnswer, what: string): T {
  const text = answer.body.toString('utf8');
  if (answer.status >= 200 && answer.status < 300) return JSON.parse(text) as T;
  let message = text.slice(0, 300);
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (parsed.error) message = `${parsed.error.code ?? ''} ${parsed.error.message ?? ''}`.trim();
  } catch {
    // Not JSON: the raw text says enough.
  }
  throw new Error(`${what}: ${answer.status} ${message}`);
}
