import { EventEmitter } from 'node:events';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SseHub, SseStream } from '../../src/server/sse.js';

/** Just enough of a ServerResponse: records writes; `full` makes `write` report a full socket. */
class FakeResponse extends EventEmitter {
  readonly chunks: string[] = [];
  full = false;
  ended = false;
  destroyed = false;
  head: Record<string, string> = {};
  writeHead(_status: number, headers: Record<string, string>): void {
    this.head = headers;
  }
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return !this.full;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
}

function open(opts: { heartbeatMs?: number; maxBufferedBytes?: number } = {}) {
  const res = new FakeResponse();
  const reply = { hijack: () => reply, raw: res } as unknown as FastifyReply;
  const request = { raw: { socket: null } } as unknown as FastifyRequest;
  const stream = SseStream.open(request, reply, {
    heartbeatMs: opts.heartbeatMs ?? 60_000,
    ...opts,
  });
  return { res, stream };
}

describe('SseStream', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('writes events and heartbeats in the SSE format', () => {
    const { res, stream } = open({ heartbeatMs: 1000 });
    expect(res.head['content-type']).toBe('text/event-stream; charset=utf-8');
    stream.send('build.queued', { a: 'x\ny' }, 7);
    vi.advanceTimersByTime(1000);
    expect(res.chunks.slice(1)).toEqual([
      'event: build.queued\nid: 7\ndata: {"a":"x\\ny"}\n\n',
      ': heartbeat\n\n',
    ]);
    stream.close();
  });

  it('holds writes while the socket is full and releases them in order on drain', async () => {
    const { res, stream } = open();
    res.full = true;
    stream.send('line', 1);
    stream.send('line', 2);
    stream.send('line', 3);
    expect(res.chunks).toHaveLength(2); // the preamble and the write that filled the socket
    let drained = false;
    const waiting = stream.drained().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    res.full = false;
    res.emit('drain');
    await waiting;
    expect(res.chunks.slice(1).map((c) => c.split('data: ')[1])).toEqual([
      '1\n\n',
      '2\n\n',
      '3\n\n',
    ]);
    stream.close();
    expect(res.ended).toBe(true);
  });

  it('cuts off a client that falls too far behind', () => {
    const { res, stream } = open({ maxBufferedBytes: 100 });
    const closed = vi.fn();
    stream.onClose(closed);
    res.full = true;
    for (let i = 0; i < 10; i++) stream.send('line', 'x'.repeat(20));
    expect(res.destroyed).toBe(true);
    expect(stream.closed).toBe(true);
    expect(closed).toHaveBeenCalledTimes(1);
  });

  it('runs cleanups once when the client goes away, and stops the heartbeat', () => {
    const { res, stream } = open({ heartbeatMs: 1000 });
    const closed = vi.fn();
    stream.onClose(closed);
    res.emit('close');
    res.emit('close');
    stream.close();
    expect(closed).toHaveBeenCalledTimes(1);
    expect(stream.signal.aborted).toBe(true);
    const before = res.chunks.length;
    vi.advanceTimersByTime(5000);
    stream.send('late', 1);
    expect(res.chunks).toHaveLength(before);
  });
});

describe('SseHub', () => {
  it('closes every open stream', () => {
    const hub = new SseHub({ heartbeatMs: 60_000 });
    const responses = [new FakeResponse(), new FakeResponse()];
    for (const res of responses) {
      const reply = { hijack: () => reply, raw: res } as unknown as FastifyReply;
      hub.start({ raw: { socket: null } } as unknown as FastifyRequest, reply);
    }
    expect(hub.size).toBe(2);
    hub.closeAll();
    expect(hub.size).toBe(0);
    expect(responses.every((r) => r.ended)).toBe(true);
  });
});
