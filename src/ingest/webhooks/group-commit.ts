import type { AppendedEvent, NewEvent } from '../../store/ports.js';
import type { IngestTarget } from './deps.js';

interface Waiter {
  readonly events: readonly NewEvent[];
  readonly resolve: (appended: AppendedEvent[]) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Group commit for the event endpoints: the inbox writes of deliveries handled in the same
 * event-loop turn (and those that arrive while a write is committing) share one transaction and
 * wake the scheduler once. Each caller still resolves only after the transaction holding its
 * events has committed, with its own `AppendedEvent`s in order, so a 202 still means "durable".
 * A delivery id repeated within a group is a redelivery as usual (the store checks in order).
 *
 * If a group's write fails, its deliveries are written again one by one, so one bad write fails
 * only its own request. Under a burst from N connections this divides the per-transaction cost
 * (BEGIN/COMMIT, WAL append, scheduler wake-up) by up to N (bench/RESULTS.md, "Ingest").
 */
export function groupCommit(target: IngestTarget): IngestTarget {
  let queue: Waiter[] = [];
  let scheduled = false;
  let writing = false;

  const write = async (): Promise<void> => {
    scheduled = false;
    if (writing || queue.length === 0) return;
    writing = true;
    const group = queue;
    queue = [];
    try {
      await writeGroup(target, group);
    } finally {
      writing = false;
      // Deliveries that arrived during the write form the next group.
      if (queue.length > 0) arm();
    }
  };
  const arm = (): void => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(() => void write());
  };

  return {
    get pipeline() {
      return target.pipeline;
    },
    ingestMany(events: readonly NewEvent[]): Promise<AppendedEvent[]> {
      if (events.length === 0) return target.ingestMany(events);
      return new Promise((resolve, reject) => {
        queue.push({ events, resolve, reject });
        arm();
      });
    },
  };
}

async function writeGroup(target: IngestTarget, group: readonly Waiter[]): Promise<void> {
  if (group.length === 1) {
    const [only] = group;
    if (only) await target.ingestMany(only.events).then(only.resolve, only.reject);
    return;
  }
  let appended: AppendedEvent[];
  try {
    appended = await target.ingestMany(group.flatMap((w) => w.events));
  } catch {
    // Nothing of the group was committed (one transaction): retry each on its own.
    for (const w of group) await target.ingestMany(w.events).then(w.resolve, w.reject);
    return;
  }
  let at = 0;
  for (const w of group) {
    w.resolve(appended.slice(at, at + w.events.length));
    at += w.events.length;
  }
}
