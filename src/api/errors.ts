/**
 * Every `error.code` the HTTP API answers with, its status, what it means and what to do. The
 * table in `docs/api.md` ("Errors") is checked against this one (test/server/error-codes.test.ts),
 * and `ApiError` takes its status from here, so a code cannot drift from its status.
 */
export const ERROR_CODES = {
  NL_BAD_REQUEST: {
    status: 400,
    meaning:
      'a path, query or body value is invalid (`details` lists the issues), an unknown query parameter or body field, malformed JSON',
    action: 'fix the request as the message says; `details[].path` names the field',
  },
  NL_UNAUTHORIZED: {
    status: 401,
    meaning: 'token missing, unknown, expired or revoked; a webhook signature that does not match',
    action: 'send `Authorization: Bearer <token>` with a valid token, or fix the webhook secret',
  },
  NL_FORBIDDEN: {
    status: 403,
    meaning: "the token lacks the route's scope",
    action: 'use a token with the scope the message names (`nightless token create --scope`)',
  },
  NL_NOT_FOUND: {
    status: 404,
    meaning: 'no such route, build, job, source, output, file, delivery, token or version',
    action: 'check the name or id; messages suggest the closest name when there is one',
  },
  NL_CONFLICT: {
    status: 409,
    meaning:
      'the request contradicts the current state: a rebuild of a job whose inputs changed, a token name in use, retrying a delivery that is not dead, polling a source that cannot be polled',
    action: 'read the message; it says what state the target is in and what to do instead',
  },
  NL_AMBIGUOUS: {
    status: 409,
    meaning: 'a version prefix matches several versions (`details.candidates`)',
    action: 'give a longer prefix, or one of `details.candidates`',
  },
  NL_TOO_LARGE: {
    status: 413,
    meaning: 'request body over the limit (1 MiB for the API, 25 MiB for webhooks, by default)',
    action: 'send a smaller body; webhooks have a larger limit of their own',
  },
  NL_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    meaning: "a body in a content type the route doesn't take",
    action: 'send `Content-Type: application/json`',
  },
  NL_RATE_LIMITED: {
    status: 429,
    meaning:
      'too many failed authentications from this address; or webhook bodies from this address in flight past its share',
    action:
      'wait for `Retry-After` seconds, then use a valid token; send a webhook again once earlier ones are answered',
  },
  NL_INTERNAL: {
    status: 500,
    meaning:
      'anything unexpected; the message is always just `internal error` — details go to the server log, never to the client',
    action: "look in the server's log, which has the cause; report it if it repeats",
  },
  NL_UNAVAILABLE: {
    status: 503,
    meaning:
      '`/readyz` while the server is starting or stopping; any request that needs the database while it cannot be reached (a restart, a failover); a webhook while the bodies in flight from all clients are at their limit; with `Retry-After: 2`',
    action: 'retry shortly; a load balancer sends traffic elsewhere meanwhile',
  },
} as const satisfies Readonly<
  Record<string, { readonly status: number; readonly meaning: string; readonly action: string }>
>;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Codes on errors that never become an HTTP response as such: the CLI and `nightless serve`
 * print them, or a route turns them into one of {@link ERROR_CODES} (`NL_BAD_PAYLOAD` → 400).
 * Listed so that every `NL_` code in the source has one meaning, documented in `docs/api.md`.
 */
export const PROCESS_ERROR_CODES = {
  NL_CONFIG_INVALID: {
    meaning: '`nightless.yaml` has problems; every one is listed with file:line:column',
    action: 'fix each listed problem; `nightless check` shows them without starting',
  },
  NL_DATA_DIR_LOCKED: {
    meaning: 'another `nightless serve` holds the data directory (its pid is named)',
    action: 'stop that server, or give this one another `--data-dir`',
  },
  NL_TIMEOUT: {
    meaning: 'a command nightless ran for a fallback poll (`git ls-remote`) ran out of time',
    action: 'check the host is reachable; the poll backs off and tries again',
  },
  NL_HOOK_INSTALL: {
    meaning: '`nightless hook install` could not install the git hook (the message says why)',
    action: 'fix the repository path or permissions named in the message',
  },
  NL_BAD_PAYLOAD: {
    meaning:
      'a webhook body is JSON but not the shape its event type promises; answered as `NL_BAD_REQUEST`',
    action: "check the forge's webhook settings (event types, content type)",
  },
} as const satisfies Readonly<
  Record<string, { readonly meaning: string; readonly action: string }>
>;

/**
 * An error a request handler throws on purpose: its code (and so its status), message and
 * details reach the client as they are. Anything else thrown becomes a bare `NL_INTERNAL`.
 */
export class ApiError extends Error {
  readonly statusCode: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = ERROR_CODES[code].status;
  }

  static notFound(message: string): ApiError {
    return new ApiError('NL_NOT_FOUND', message);
  }
}
