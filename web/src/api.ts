import type { ApiErrorBody } from './api-types.js';
import { getToken } from './token.js';

/** Every request gives up after this long: a hung server must not leave a page spinning. */
const TIMEOUT_MS = 15_000;

/** An API answer that was not 2xx, with the server's `error.code` and message. */
export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiFailure';
  }

  /** What a person should do about it. */
  get advice(): string {
    if (this.status === 401)
      return getToken()
        ? 'The API token was refused (unknown, expired or revoked): enter another one with “Token”.'
        : 'This needs an API token: press “Token” and paste one (`nightless token create`, or the token `nightless serve` printed).';
    if (this.status === 403)
      return 'The token lacks the scope this needs; ask an admin for one that has it.';
    return this.message;
  }
}

export function authHeaders(): Record<string, string> {
  const token = getToken();
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function api<T>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders() };
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method: init.method ?? 'GET',
      headers,
      body: init.body === undefined ? null : JSON.stringify(init.body),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (err) {
    throw new ApiFailure(0, 'NL_UNREACHABLE', `the server did not answer: ${String(err)}`);
  }
  if (res.ok) return (await res.json()) as T;
  let body: ApiErrorBody | null = null;
  try {
    body = (await res.json()) as ApiErrorBody;
  } catch {
    // Not our JSON (a proxy's page): the status line says enough.
  }
  throw new ApiFailure(
    res.status,
    body?.error.code ?? `HTTP_${res.status}`,
    body?.error.message ?? `${res.status} ${res.statusText}`,
  );
}

export function post<T>(path: string, body: unknown = {}): Promise<T> {
  return api<T>(path, { method: 'POST', body });
}
