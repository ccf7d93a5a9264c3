/**
 * Whether a failed network command (git, ssh, curl) failed because of the network rather than
 * because of what it was asked (a missing repository, refused credentials, an unknown commit).
 * Pure: reads the command's stderr only. The patterns are what git 2.x (via libcurl), OpenSSH
 * and glibc print; each is matched case-insensitively anywhere in the text.
 */
const NETWORK_PATTERNS: readonly RegExp[] = [
  /could not resolve host/i, // curl DNS
  /could not resolve hostname/i, // ssh DNS
  /temporary failure in name resolution/i,
  /name or service not known/i,
  /connection refused/i,
  /connection reset/i,
  /connection timed out/i,
  /operation timed out/i,
  /timed out/i,
  /operation too slow/i, // GIT_HTTP_LOW_SPEED_LIMIT/TIME
  /early eof/i,
  /the remote end hung up unexpectedly/i,
  /network is unreachable/i,
  /no route to host/i,
  /failed to connect to/i,
  /empty reply from server/i,
  /rpc failed/i,
  /unexpected disconnect while reading sideband packet/i,
  /ssl_connect|gnutls_handshake|tls connection was non-properly terminated/i,
  /ssh: connect to host/i,
  /broken pipe/i,
  /\bstalled\b/i, // nightless' own watchdog
];

/** Words that mean the remote answered and said no: never a network failure on their own. */
const ANSWERED_PATTERNS: readonly RegExp[] = [
  /authentication failed/i,
  /permission denied \(publickey/i,
  /repository not found/i,
  /does not appear to be a git repository/i,
  /the requested url returned error: 4\d\d/i,
];

export function isNetworkFailure(stderr: string): boolean {
  if (ANSWERED_PATTERNS.some((p) => p.test(stderr))) return false;
  return NETWORK_PATTERNS.some((p) => p.test(stderr));
}

/** Node's socket error codes that mean the network failed (not the request). */
const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'ECONNABORTED',
]);

/** For errors thrown by Node's net/http/ssh2 clients: `code` or the message says network. */
export function isNetworkError(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && NETWORK_ERRNOS.has(code)) return true;
  const level = (err as { level?: unknown }).level; // ssh2: 'client-socket', 'client-timeout'
  if (level === 'client-socket' || level === 'client-timeout') return true;
  const message = (err as { message?: unknown }).message;
  return typeof message === 'string' && isNetworkFailure(message);
}
