import { describe, expect, it } from 'vitest';
import type { Pipeline } from '../../../src/core/pipeline.js';
import { groupCommit } from '../../../src/ingest/webhooks/group-commit.js';
import type { IngestTarget } from '../../../src/ingest/webhooks/routes.js';
import type { AppendedEvent, NewEvent } from '../../../src/store/ports.js';

function event(version: string, deliveryId: string | null = null): NewEvent {
  return {
    kind: 'source',
    source: 'app',
    version,
    ref: 'main',
    origin: 'webhook',
    deliveryId,
    changedPaths: null,
    producedBy: null,
    receivedAt: 0,
  };
}

/** An inbox that records each write (one transaction each) and can be told to fail some. */
function fakeTarget(fails: (events: readonly NewEvent[]) => boolean = () => false) {
  const writes: string[][] = [];
  const seen = new Map<string, number>();
  let id = 0;
  const target: IngestTarget = {
    pipeline: {} as Pipeline,
    ingestMany(events) {
      if (fails(events)) return Promise.reject(new Error('disk full'));
      writes.push(events.map((e) => (e.kind === 'source' ? e.version : e.kind)));
      return Promise.resolve(
        events.map((e): AppendedEvent => {
          const d = e.kind === 'source' ? e.deliveryId : null;
          const first = d === null ? undefined : seen.get(d);
          if (first !== undefined) return { id: first, redelivery: true };
          id += 1;
          if (d !== null) seen.set(d, id);
          return { id, redelivery: false };
        }),
      );
    },
  };
  return { target, writes };
}

describe('groupCommit', () => {
  it('writes deliveries of one turn in one transaction; each caller gets its own results', async () => {
    const { target, writes } = fakeTarget();
    const g = groupCommit(target);
    const [a, b, c] = await Promise.all([
      g.ingestMany([event('a1'), event('a2')]),
      g.ingestMany([event('b1', 'd-1')]),
      g.ingestMany([event('c1', 'd-1')]),
    ]);
    expect(writes).toEqual([['a1', 'a2', 'b1', 'c1']]);
    expect(a).toEqual([
      { id: 1, redelivery: false },
      { id: 2, redelivery: false },
    ]);
    expect(b).toEqual([{ id: 3, redelivery: false }]);
    expect(c).toEqual([{ id: 3, redelivery: true }]);
  });

  it('groups what arrives during a write into the next one', async () => {
    const { target, writes } = fakeTarget();
    const g = groupCommit(target);
    const first = g.ingestMany([event('x')]);
    await new Promise((r) => setImmediate(r));
    const later = [g.ingestMany([event('y')]), g.ingestMany([event('z')])];
    await Promise.all([first, ...later]);
    expect(writes).toEqual([['x'], ['y', 'z']]);
    expect(await g.ingestMany([event('w')])).toEqual([{ id: 4, redelivery: false }]);
  });

  it('when a group fails, retries each delivery alone: only the bad one fails', async () => {
    const { target, writes } = fakeTarget((events) =>
      events.some((e) => e.kind === 'source' && e.version === 'bad'),
    );
    const g = groupCommit(target);
    const results = await Promise.allSettled([
      g.ingestMany([event('ok1')]),
      g.ingestMany([event('bad')]),
      g.ingestMany([event('ok2')]),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(writes).toEqual([['ok1'], ['ok2']]);
  });
});
