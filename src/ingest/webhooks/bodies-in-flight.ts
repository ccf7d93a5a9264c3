import { Transform, type TransformCallback } from 'node:stream';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError } from '../../api/errors.js';

/** How many body bytes the webhook endpoints hold at once: per client address and in all. */
export interface InFlightLimits {
  readonly perAddress: number;
  readonly total: number;
}

/**
 * Defaults for a body limit: a client may have two of the largest bodies in flight (64 MiB at
 * least), all clients together eight. A signature is checked only once the whole body is in,
 * so without a limit anyone could make the server hold up to the body limit per connection
 * (80 connections × 25 MiB took 1.9 GB of memory, docs/ingest.md).
 */
export function inFlightLimits(bodyLimit: number): InFlightLimits {
  const perAddress = Math.max(64 * 1024 * 1024, 2 * bodyLimit);
  return { perAddress, total: 4 * perAddress };
}

export type Refusal = 'address' | 'total';

/** Bytes reserved by the requests in flight, by client address. Pure bookkeeping. */
export class BodiesInFlight {
  private readonly byAddress = new Map<string, number>();
  private total = 0;

  constructor(readonly limits: InFlightLimits) {}

  /** Reserves `bytes` for `address`; what refused it when that would pass a limit. */
  reserve(address: string, bytes: number): Refusal | null {
    const mine = this.byAddress.get(address) ?? 0;
    if (mine + bytes > this.limits.perAddress) return 'address';
    if (this.total + bytes > this.limits.total) return 'total';
    this.byAddress.set(address, mine + bytes);
    this.total += bytes;
    return null;
  }

  release(address: string, bytes: number): void {
    const left = (this.byAddress.get(address) ?? 0) - bytes;
    if (left > 0) this.byAddress.set(address, left);
    else this.byAddress.delete(address);
    this.total = Math.max(0, this.total - bytes);
  }

  /** Bytes held now (for tests and metrics). */
  held(address?: string): number {
    return address === undefined ? this.total : (this.byAddress.get(address) ?? 0);
  }
}

/**
 * Makes the scope's routes reserve their body's bytes before reading them: a declared
 * `Content-Length` all at once, before the first byte is read; a chunked body as it arrives. A
 * request that would pass the client's share is answered 429, one that would pass the total 503,
 * both with `Retry-After` (a forge redelivers, or the fallback poll finds the push). The bytes
 * are released when the response is done, which is when the body can be collected.
 */
export function limitBodiesInFlight(app: FastifyInstance, bodies: BodiesInFlight): void {
  app.addHook('preParsing', (request, reply, payload, done) => {
    const address = request.ip;
    let held = 0;
    void reply.raw.once('close', () => bodies.release(address, held));
    const take = (bytes: number): ApiError | null => {
      const refused = bodies.reserve(address, bytes);
      if (refused === null) {
        held += bytes;
        return null;
      }
      return refusal(reply, refused, address, bodies.limits);
    };
    const declared = Number(request.headers['content-length']);
    if (Number.isSafeInteger(declared) && declared >= 0) {
      // Over the body limit: refused (413) before a byte is read, nothing to hold.
      done(declared > request.routeOptions.bodyLimit ? null : take(declared), payload);
      return;
    }
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, callback: TransformCallback) {
        const err = take(chunk.length);
        if (err === null) callback(null, chunk);
        else callback(err);
      },
    });
    payload.on('error', (err) => counted.destroy(err));
    done(null, payload.pipe(counted));
  });
}

/**
 * 429 for one client over its share; 503 (`Retry-After: 2`, server/errors.ts) for the total.
 * The connection is closed after the answer: otherwise the server would go on reading (and
 * throwing away) the rest of the refused body, up to the body limit, on its event loop.
 */
function refusal(
  reply: FastifyReply,
  refused: Refusal,
  address: string,
  limits: InFlightLimits,
): ApiError {
  void reply.header('connection', 'close');
  if (refused === 'total')
    return new ApiError(
      'NL_UNAVAILABLE',
      `webhook bodies in flight have reached the server's limit of ${limits.total} bytes; retry shortly`,
    );
  void reply.header('retry-after', '1');
  return new ApiError(
    'NL_RATE_LIMITED',
    `webhook bodies in flight from ${address} have reached the limit of ${limits.perAddress} bytes per client; retry once they are answered`,
  );
}
