import { useEffect, useRef } from 'preact/hooks';
import type { Build } from './api-types.js';
import { openStream } from './sse-client.js';

export interface BuildEvent {
  readonly resync: false;
  readonly type: string;
  readonly build: Build;
}

/** A build event, or `resync`: the stream reconnected, so refetch. */
export type LiveEvent = BuildEvent | { readonly resync: true };

type Listener = (e: LiveEvent) => void;
const listeners = new Set<Listener>();
let close: (() => void) | null = null;

/**
 * One `/api/events` stream for the whole tab, shared by the pages. After a reconnect the pages
 * get `resync` and refetch: the server replays missed events, but a refetch also repairs
 * anything older than its replay window — a missed event never leaves a stale view.
 */
function subscribe(fn: Listener): () => void {
  listeners.add(fn);
  close ??= openStream('/api/events', {
    onMessage: (m) => {
      if (!m.event.startsWith('build.')) return;
      const e = { ...(JSON.parse(m.data) as Omit<BuildEvent, 'resync'>), resync: false as const };
      for (const l of listeners) l(e);
    },
    onOpen: (resumed) => {
      if (resumed) for (const l of listeners) l({ resync: true });
    },
  });
  return () => {
    listeners.delete(fn);
    if (listeners.size === 0) {
      close?.();
      close = null;
    }
  };
}

/** Calls `fn` for every build event (and `resync`) while the component is mounted. */
export function useBuildEvents(fn: Listener): void {
  const ref = useRef(fn);
  ref.current = fn;
  useEffect(() => subscribe((e) => ref.current(e)), []);
}
