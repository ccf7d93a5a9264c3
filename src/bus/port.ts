import type { OutboxRecord } from '../store/ports.js';

/** Messages on the bus. The bus only wakes and informs; the database stays the source of truth. */
export interface BusMessages {
  /** A build lifecycle change was committed (relayed from the outbox). */
  build: OutboxRecord;
  /** A build's log grew to `bytes`. */
  log: { readonly buildId: number; readonly bytes: number };
  /** Between server replicas sharing a database (scale-out); the embedded server never sends it. */
  replicas: ReplicaSignal;
}

/**
 * What one replica tells the others. `inbox`/`outbox`: rows were committed there, the leader's
 * scheduler or relay should look. `cancel`: whoever runs the build kills it.
 */
export type ReplicaSignal =
  | { readonly kind: 'inbox' }
  | { readonly kind: 'outbox' }
  | { readonly kind: 'cancel'; readonly buildId: number; readonly reason: string };

export type Topic = keyof BusMessages;

/**
 * Publish/subscribe between the parts of nightless. Delivery is best effort and may be
 * asynchronous; handlers must be idempotent and must not throw.
 */
export interface Bus {
  publish<T extends Topic>(topic: T, message: BusMessages[T]): void;
  /** Returns the function that unsubscribes; safe to call twice. */
  subscribe<T extends Topic>(topic: T, handler: (message: BusMessages[T]) => void): () => void;
  close(): Promise<void>;
}
