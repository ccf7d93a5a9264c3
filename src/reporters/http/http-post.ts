import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupAddress } from 'node:dns';
import type { Socket } from 'node:net';
import { redactText } from '../../core/redact.js';
import {
  pinnedLookup,
  RefusedTargetError,
  vetHost,
  type OutboundPolicy,
} from '../../net/outbound-guard.js';
import type { SendOutcome } from '../sender.js';

export interface PostOptions {
  readonly headers: Readonly<Record<string, string>>;
  /** TCP connect (and TLS handshake) must finish within this. */
  readonly connectTimeoutMs: number;
  /** The whole exchange, connect to the end of the answer. */
  readonly timeoutMs: number;
  /** Follow 3xx answers (at most 5 hops, http/https only, the same POST); off by default. */
  readonly followRedirects: boolean;
  /** Which addresses may be reached; every hop is checked before any connection. */
  readonly policy: OutboundPolicy;
  readonly signal?: AbortSignal;
}

const MAX_REDIRECTS = 5;
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * A keep-alive pair of agents per sender: webhooks to one receiver reuse their connection, so a
 * delivery costs one round trip, not a handshake each time.
 */
export class HttpPoster {
  private readonly http = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  private readonly https = new HttpsAgent({ keepAlive: true, maxSockets: 4 });

  /**
   * POSTs `body` and classifies the answer: 2xx ok; 408, 429, 5xx and network errors retryable;
   * other 4xx, unfollowed redirects and refused targets (`RefusedTargetError`: the host is, or
   * resolves to, an address the policy refuses) not (sending the same again would not help).
   */
  async post(url: string, body: string, opts: PostOptions): Promise<SendOutcome> {
    let target = url;
    for (let hop = 0; ; hop++) {
      let answer: Answer;
      try {
        const addresses = await vetHost(
          new URL(target).hostname,
          opts.policy,
          opts.connectTimeoutMs,
        );
        answer = await this.once(target, body, opts, addresses);
      } catch (err) {
        if (err instanceof RefusedTargetError) {
          const where = hop === 0 ? '' : ` (redirected to ${redactText(target)})`;
          return { ok: false, error: `${err.message}${where}`, retryable: false };
        }
        return {
          ok: false,
          error: err instanceof Error ? err.message : String(err),
          retryable: true,
        };
      }
      const { status, location, text } = answer;
      if (status >= 200 && status < 300) return { ok: true };
      if (status >= 300 && status < 400) {
        const next = location === null ? null : safeResolve(location, target);
        if (!opts.followRedirects || next === null) {
          return {
            ok: false,
            retryable: false,
            error: `HTTP ${status} redirect to ${location ?? '(no Location)'} not followed${
              opts.followRedirects ? '' : ' (set follow_redirects: true to follow)'
            }`,
          };
        }
        if (hop + 1 >= MAX_REDIRECTS)
          return { ok: false, retryable: false, error: `more than ${MAX_REDIRECTS} redirects` };
        target = next;
        continue;
      }
      const retryable = status === 408 || status === 429 || status >= 500;
      const snippet = text.trim().slice(0, 200);
      return {
        ok: false,
        retryable,
        error: `HTTP ${status} from ${new URL(target).host}${snippet ? `: ${snippet}` : ''}`,
      };
    }
  }

  close(): void {
    this.http.destroy();
    this.https.destroy();
  }

  private once(
    url: string,
    body: string,
    opts: PostOptions,
    addresses: readonly LookupAddress[],
  ): Promise<Answer> {
    const u = new URL(url);
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      return Promise.reject(new Error(`only http and https URLs are allowed, not ${u.protocol}`));
    const where = `${u.hostname}:${u.port || (u.protocol === 'https:' ? 443 : 80)}`;
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<Answer>((resolve, reject) => {
      let done = false;
      const finish = (err: Error | null, answer?: Answer) => {
        if (done) return;
        done = true;
        clearTimeout(connectTimer);
        clearTimeout(totalTimer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else if (answer) resolve(answer);
      };
      const req = send(u, {
        method: 'POST',
        agent: u.protocol === 'https:' ? this.https : this.http,
        // Connect to the vetted addresses only: no second DNS answer between check and connect.
        lookup: pinnedLookup(addresses),
        headers: { ...opts.headers, 'Content-Length': String(Buffer.byteLength(body)) },
      });
      const connectTimer = setTimeout(
        () =>
          finish(new Error(`connect timeout after ${seconds(opts.connectTimeoutMs)} to ${where}`)),
        opts.connectTimeoutMs,
      );
      const totalTimer = setTimeout(
        () => finish(new Error(`timeout after ${seconds(opts.timeoutMs)} waiting for ${where}`)),
        opts.timeoutMs,
      );
      const onAbort = () => finish(new Error('aborted: nightless is stopping'));
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      req.on('socket', (socket: Socket) => {
        if (!socket.connecting) clearTimeout(connectTimer);
        else
          socket.once(u.protocol === 'https:' ? 'secureConnect' : 'connect', () =>
            clearTimeout(connectTimer),
          );
      });
      req.on('error', (err) => finish(new Error(`${err.message} (${where})`)));
      req.on('response', (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('error', (err) => finish(err));
        res.on('end', () => {
          const loc = res.headers.location;
          finish(null, {
            status: res.statusCode ?? 0,
            location: typeof loc === 'string' ? loc : null,
            text: Buffer.concat(chunks).toString('utf8'),
          });
        });
      });
      req.end(body);
    });
  }
}

interface Answer {
  readonly status: number;
  readonly location: string | null;
  readonly text: string;
}

function safeResolve(location: string, base: string): string | null {
  try {
    const u = new URL(location, base);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
