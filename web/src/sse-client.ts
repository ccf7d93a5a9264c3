import { authHeaders } from './api.js';
import { askForToken } from './token.js';

export interface SseMessage {
  readonly event: string;
  readonly id: string | null;
  readonly data: string;
}

export interface StreamHandlers {
  readonly onMessage: (m: SseMessage) => void;
  /** Each time the stream is (re)connected; `resumed` after a reconnect. */
  readonly onOpen?: (resumed: boolean) => void;
  /** The stream ended for good (the server sent everything, or gave up after failures). */
  readonly onEnd?: (why: string) => void;
  /** Stop instead of reconnecting once the server closes the stream (a finished log). */
  readonly once?: boolean;
}

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_FAILURES = 20;

/**
 * Server-sent events over `fetch` rather than `EventSource`, because `EventSource` cannot send
 * the `Authorization` header a protected server needs. Reconnects with `Last-Event-ID` (the
 * server replays what was missed), backing off up to 30 s, and gives up after 20 failures in a
 * row. Returns the function that closes it.
 */
export function openStream(path: string, h: StreamHandlers): () => void {
  let closed = false;
  let controller: AbortController | null = null;
  let lastId: string | null = null;
  let failures = 0;
  let connections = 0;

  const run = async () => {
    while (!closed && failures < MAX_FAILURES) {
      controller = new AbortController();
      const connectTimer = setTimeout(() => controller?.abort(), CONNECT_TIMEOUT_MS);
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...authHeaders() };
        if (lastId !== null) headers['last-event-id'] = lastId;
        const res = await fetch(path, { headers, signal: controller.signal });
        clearTimeout(connectTimer);
        if (res.status === 401) {
          askForToken('Reading this server needs an API token.', 'read');
          h.onEnd?.('401');
          return;
        }
        if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        failures = 0;
        h.onOpen?.(connections++ > 0);
        await readEvents(res.body, (m) => {
          if (m.id !== null) lastId = m.id;
          h.onMessage(m);
        });
        if (h.once) {
          h.onEnd?.('done');
          return;
        }
      } catch {
        clearTimeout(connectTimer);
        if (closed) return;
        failures++;
      }
      await new Promise((r) => setTimeout(r, Math.min(30_000, 1000 * 2 ** Math.min(failures, 5))));
    }
    if (!closed) h.onEnd?.('gave up');
  };
  void run();
  return () => {
    closed = true;
    controller?.abort();
  };
}

async function readEvents(body: ReadableStream<Uint8Array>, emit: (m: SseMessage) => void) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let id: string | null = null;
  let data: string[] = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let nl: number;
    while ((nl = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, nl).replace(/\r$/, '');
      buffer = buffer.slice(nl + 1);
      if (line === '') {
        if (data.length > 0) emit({ event, id, data: data.join('\n') });
        event = 'message';
        id = null;
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const val = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'event') event = val;
        else if (field === 'data') data.push(val);
        else if (field === 'id') id = val;
      }
    }
  }
}
