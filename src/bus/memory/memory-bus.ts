import { EventEmitter } from 'node:events';
import type { Bus, BusMessages, Topic } from '../port.js';

/** The embedded deployment's bus: synchronous in-process delivery. */
export class MemoryBus implements Bus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // SSE clients each subscribe; the default warning at 10 listeners is noise here.
    this.emitter.setMaxListeners(0);
  }

  publish<T extends Topic>(topic: T, message: BusMessages[T]): void {
    this.emitter.emit(topic, message);
  }

  subscribe<T extends Topic>(topic: T, handler: (message: BusMessages[T]) => void): () => void {
    const safe = (m: BusMessages[T]) => {
      try {
        handler(m);
      } catch {
        // A failing subscriber must not break the publisher or other subscribers.
      }
    };
    this.emitter.on(topic, safe);
    return () => this.emitter.off(topic, safe);
  }

  close(): Promise<void> {
    this.emitter.removeAllListeners();
    return Promise.resolve();
  }
}
