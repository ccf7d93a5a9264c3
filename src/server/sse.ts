import type { ServerResponse } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';

export interface SseOptions {
  /** A comment line this often keeps proxies and load balancers from closing an idle stream. */
  readonly heartbeatMs: number;
  /** A client this far behind is cut off (it can reconnect with `Last-Event-ID`); default 8 MiB. */
  readonly maxBufferedBytes?: number;
}

const DEFAULT_MAX_BUFFERED = 8 * 1024 * 1024;

/**
 * One server-sent-events response. Writes keep their order; while the socket is full they are
 * held in memory (`drained()` lets a producer that can wait, like a log follower, do so), and a
 * client that falls further behind than `maxBufferedBytes` is disconnected rather than allowed to
 * grow the server's memory. Closing — by the client, the server or `close()` — runs every
 * `onClose` callback exactly once.
 */
export class SseStream {
  private readonly pending: string[] = [];
  private pendingBytes = 0;
  private waitingDrain = false;
  private drainWaiters: Array<() => void> = [];
  private readonly closeCallbacks: Array<() => void> = [];
  private readonly heartbeat: NodeJS.Timeout;
  private readonly abort = new AbortController();

  private constructor(
    private readonly res: ServerResponse,
    private readonly maxBuffered: number,
    heartbeatMs: number,
  ) {
    res.on('close', () => this.cleanup());
    res.on('drain', () => this.flush());
    this.heartbeat = setInterval(() => this.comment('heartbeat'), heartbeatMs);
    this.heartbeat.unref();
  }

  /** Takes the response over from fastify (hooks and serializers no longer apply) and starts the stream. */
  static open(request: FastifyRequest, reply: FastifyReply, opts: SseOptions): SseStream {
    void reply.hijack();
    const res = reply.raw;
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // The socket is this stream's for its lifetime; when the stream ends, so does the connection
      // (otherwise a closing server waits for the client to drop an idle keep-alive socket).
      connection: 'close',
      // nginx buffers proxied responses by default; events must arrive as they happen.
      'x-accel-buffering': 'no',
    });
    // Events are small and must not wait for Nagle; `inject()`'s fake socket has no such method.
    const socket = request.raw.socket as Partial<
      Pick<typeof request.raw.socket, 'setNoDelay'>
    > | null;
    if (typeof socket?.setNoDelay === 'function') socket.setNoDelay(true);
    const stream = new SseStream(
      res,
      opts.maxBufferedBytes ?? DEFAULT_MAX_BUFFERED,
      opts.heartbeatMs,
    );
    stream.write('retry: 3000\n: connected\n\n');
    return stream;
  }

  get closed(): boolean {
    return this.abort.signal.aborted;
  }

  /** Aborted when the stream closes, for anything waiting on the client's behalf. */
  get signal(): AbortSignal {
    return this.abort.signal;
  }

  /** Queues one event. `data` is sent as one line of JSON (JSON never contains a raw newline). */
  send(event: string, data: unknown, id?: string | number): void {
    const idLine = id === undefined ? '' : `id: ${String(id).replace(/[\r\n]/g, '')}\n`;
    this.write(`event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    this.write(`: ${text.replace(/[\r\n]/g, ' ')}\n\n`);
  }

  /** Resolves once everything queued reached the socket (or the stream closed). */
  drained(): Promise<void> {
    if (!this.waitingDrain || this.closed) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  onClose(fn: () => void): void {
    if (this.closed) fn();
    else this.closeCallbacks.push(fn);
  }

  /** Ends the response after what is queued; safe to call twice. */
  close(): void {
    if (this.closed) return;
    if (this.waitingDrain) {
      // Ending would wait for a client that isn't reading; drop the queue and the socket instead.
      this.res.destroy();
    } else {
      this.res.end();
    }
    this.cleanup();
  }

  private write(chunk: string): void {
    if (this.closed) return;
    if (this.waitingDrain) {
      this.pending.push(chunk);
      this.pendingBytes += Buffer.byteLength(chunk);
      if (this.pendingBytes > this.maxBuffered) {
        this.res.destroy();
        this.cleanup();
      }
      return;
    }
    if (!this.res.write(chunk)) this.waitingDrain = true;
  }

  private flush(): void {
    this.waitingDrain = false;
    while (this.pending.length > 0 && !this.waitingDrain && !this.closed) {
      const chunk = this.pending.shift() ?? '';
      this.pendingBytes -= Buffer.byteLength(chunk);
      if (!this.res.write(chunk)) this.waitingDrain = true;
    }
    if (!this.waitingDrain) this.releaseWaiters();
  }

  private releaseWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private cleanup(): void {
    if (this.closed) return;
    this.abort.abort();
    clearInterval(this.heartbeat);
    this.pending.length = 0;
    this.pendingBytes = 0;
    this.releaseWaiters();
    for (const fn of this.closeCallbacks.splice(0)) {
      try {
        fn();
      } catch {
        // A cleanup callback (an unsubscribe) must not stop the others.
      }
    }
  }
}

/** Tracks open streams so that closing the server ends them instead of waiting for clients. */
export class SseHub {
  private readonly open = new Set<SseStream>();

  constructor(private readonly defaults: SseOptions) {}

  start(request: FastifyRequest, reply: FastifyReply): SseStream {
    const stream = SseStream.open(request, reply, this.defaults);
    this.open.add(stream);
    stream.onClose(() => this.open.delete(stream));
    return stream;
  }

  get size(): number {
    return this.open.size;
  }

  closeAll(): void {
    for (const s of [...this.open]) s.close();
  }
}

/** True when the client asked for an event stream (`Accept: text/event-stream`). */
export function wantsEventStream(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('text/event-stream');
}
