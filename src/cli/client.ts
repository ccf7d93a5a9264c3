import { ApiError, ConnectionError } from './errors.js';
import { requestText, type TextResponse } from './http-request.js';
import { SseParser, type SseMessage } from './sse.js';

export type Query = Readonly<Record<string, string | number | boolean | undefined>>;

export interface ClientConfig {
  /** `http://127.0.0.1:8080`, without a trailing slash. */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer` on every request (the server may protect reads too). */
  readonly token: string | null;
  /** Connect + total time for a request; for streams, time until the response headers. */
  readonly timeoutMs: number;
}

export interface StreamOptions {
  /**
   * Fail when the stream stays silent this long. `/api/events` sends a heartbeat every 15 s, so a
   * dead connection (a firewall dropping packets) is noticed instead of hanging forever.
   */
  readonly idleTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** Marks our own aborts, so they are told apart from the caller's. */
class Deadline extends Error {
  constructor(readonly what: 'connect' | 'idle') {
    super(what);
  }
}

/**
 * A small client for the nightless HTTP API (docs/api.md): JSON calls over `node:http`
 * (`requestText`, quick to load), streams and downloads over `fetch`. Every
 * network call has a deadline — fail fast rather than hang on a silent firewall. Error bodies
 * `{error: {code, message}}` become `ApiError`; network failures become `ConnectionError`.
 */
export class ApiClient {
  constructor(
    readonly config: ClientConfig,
    private readonly fetchImpl: typeof fetch = fetch,
  ) {}

  url(path: string, query: Query = {}): string {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined) params.set(key, String(value));
    }
    const qs = params.toString();
    return `${this.config.baseUrl}${path}${qs === '' ? '' : `?${qs}`}`;
  }

  async getJson<T>(path: string, query: Query = {}): Promise<T> {
    return this.json<T>('GET', path, query, undefined);
  }

  async postJson<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>('POST', path, {}, body);
  }

  async deleteJson<T>(path: string): Promise<T> {
    return this.json<T>('DELETE', path, {}, undefined);
  }

  private async json<T>(method: string, path: string, query: Query, body: unknown): Promise<T> {
    const signal = AbortSignal.timeout(this.config.timeoutMs);
    try {
      const headers = this.headers('application/json');
      if (body !== undefined) headers['content-type'] = 'application/json';
      const res = await requestText(this.url(path, query), {
        method,
        headers,
        signal,
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      if (!res.ok) throw await toApiError(res);
      const text = await res.text();
      try {
        return JSON.parse(text) as T;
      } catch {
        throw new ConnectionError(
          `the server at ${this.config.baseUrl} did not answer with JSON for ${path} (is it a nightless server?)`,
        );
      }
    } catch (err) {
      throw this.networkError(err);
    }
  }

  /**
   * Opens a response whose body is read by the caller (downloads, streams). The timeout covers
   * connecting and the headers only: a download or a followed log may take as long as it takes.
   * Aborting `signal` (or `close()`) cancels the request.
   */
  async open(
    path: string,
    query: Query,
    accept: string,
    signal?: AbortSignal,
  ): Promise<{ response: Response; close: () => void; controller: AbortController }> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => controller.abort(new Deadline('connect')),
      this.config.timeoutMs,
    );
    const close = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      controller.abort();
    };
    try {
      const response = await this.fetchImpl(this.url(path, query), {
        headers: this.headers(accept),
        signal: controller.signal,
      });
      clearTimeout(timer);
      if (!response.ok) throw await toApiError(response);
      return { response, close, controller };
    } catch (err) {
      close();
      throw this.networkError(err);
    }
  }

  /**
   * Connects to a server-sent events endpoint and returns its messages. The connection is open
   * when this resolves (so nothing sent afterwards is missed); it closes when the server ends the
   * stream or the caller stops iterating (`break`, `return()`).
   */
  async stream(
    path: string,
    query: Query,
    options: StreamOptions = {},
  ): Promise<AsyncGenerator<SseMessage, void, undefined>> {
    const opened = await this.open(path, query, 'text/event-stream', options.signal);
    return this.readEvents(opened, options);
  }

  private async *readEvents(
    opened: { response: Response; close: () => void; controller: AbortController },
    options: StreamOptions,
  ): AsyncGenerator<SseMessage, void, undefined> {
    const { response, close, controller } = opened;
    const body = response.body;
    if (body === null) return close();
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    let idle: NodeJS.Timeout | undefined;
    const armIdle = (): void => {
      if (options.idleTimeoutMs === undefined) return;
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Deadline('idle')), options.idleTimeoutMs);
    };
    try {
      armIdle();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        armIdle();
        yield* parser.push(value);
      }
    } catch (err) {
      if (options.signal?.aborted === true) return;
      throw this.networkError(err, controller.signal.reason);
    } finally {
      clearTimeout(idle);
      close();
      reader.releaseLock();
    }
  }

  private headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept };
    if (this.config.token !== null) headers['authorization'] = `Bearer ${this.config.token}`;
    return headers;
  }

  /** Turns fetch's failures into messages a person can act on; passes our own errors through. */
  networkError(err: unknown, abortReason?: unknown): unknown {
    if (err instanceof ApiError || err instanceof ConnectionError) return err;
    const server = this.config.baseUrl;
    const reason = abortReason ?? (err instanceof Deadline ? err : undefined);
    if (reason instanceof Deadline || err instanceof Deadline) {
      const what = reason instanceof Deadline ? reason.what : 'connect';
      return what === 'idle'
        ? new ConnectionError(`the connection to ${server} went silent (no heartbeat); giving up`)
        : new ConnectionError(
            `no answer from the nightless server at ${server} within ${seconds(this.config.timeoutMs)} (use --timeout to wait longer)`,
          );
    }
    if (err instanceof Error && err.name === 'TimeoutError') {
      return new ConnectionError(
        `no answer from the nightless server at ${server} within ${seconds(this.config.timeoutMs)} (use --timeout to wait longer)`,
        { cause: err },
      );
    }
    const code = errorCode(err);
    if (code === 'ECONNREFUSED') {
      return new ConnectionError(
        `cannot reach the nightless server at ${server} (is \`nightless serve\` running?)`,
        { cause: err },
      );
    }
    if (code !== null) {
      const detail = err instanceof Error && err.cause instanceof Error ? err.cause.message : code;
      return new ConnectionError(`cannot reach the nightless server at ${server}: ${detail}`, {
        cause: err,
      });
    }
    // fetch's own refusals (a blocked port, a malformed address) come without a system code.
    if (err instanceof TypeError && err.message === 'fetch failed') {
      const detail = err.cause instanceof Error ? err.cause.message : 'fetch failed';
      return new ConnectionError(`cannot reach the nightless server at ${server}: ${detail}`, {
        cause: err,
      });
    }
    return err;
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

/** undici puts the system error (`ECONNREFUSED`, `ENOTFOUND`...) in `cause`, sometimes nested. */
function errorCode(err: unknown): string | null {
  let current: unknown = err;
  for (let depth = 0; depth < 4 && current instanceof Error; depth += 1) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string' && code !== 'ABORT_ERR') return code;
    if (current instanceof AggregateError) current = current.errors[0];
    else current = current.cause;
  }
  return null;
}

/** Reads an error response into an `ApiError`, whatever its body looks like. */
async function toApiError(res: TextResponse): Promise<ApiError> {
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The status alone still says what happened.
  }
  try {
    const body = JSON.parse(text) as {
      error?: { code?: unknown; message?: unknown; details?: unknown };
    };
    const e = body.error;
    if (e !== undefined && typeof e.code === 'string') {
      const message = typeof e.message === 'string' ? e.message : res.statusText;
      return new ApiError(res.status, e.code, message, e.details);
    }
  } catch {
    // Not JSON: a proxy's HTML page, say. Fall through.
  }
  const snippet = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
  return new ApiError(res.status, `HTTP_${res.status}`, snippet === '' ? res.statusText : snippet);
}
