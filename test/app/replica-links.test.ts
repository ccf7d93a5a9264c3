import { afterEach, expect, it } from 'vitest';
import type { LeaderLoops } from '../../src/app/leader-loops.js';
import { ReplicaLinks } from '../../src/app/replica-links.js';
import { MemoryBus } from '../../src/bus/memory/memory-bus.js';

/** What a replica does with what the others say; the loops and the runner are counted fakes. */
function setup(leading: boolean) {
  const bus = new MemoryBus();
  const woke = { scheduler: 0, relay: 0, runner: 0, polls: 0 };
  const cancels: Array<[number, string]> = [];
  const loops = {
    scheduler: { wake: () => (woke.scheduler += 1) },
    relay: { wake: () => (woke.relay += 1) },
    snapshot: { buildChanged: () => undefined },
    wake: () => (woke.polls += 1),
  } as unknown as LeaderLoops;
  const links = new ReplicaLinks({
    bus,
    pollMs: 60_000,
    leader: () => (leading ? loops : null),
    runner: {
      wake: () => (woke.runner += 1),
      cancelRunning: (id, reason) => {
        cancels.push([id, reason]);
        return true;
      },
    },
  });
  return { bus, woke, cancels, links };
}

let stop: (() => void) | null = null;
afterEach(() => stop?.());

it('on the leader: inbox wakes the scheduler, outbox the relay; a cancel reaches the runner', () => {
  const { bus, woke, cancels, links } = setup(true);
  stop = () => links.stop();
  bus.publish('replicas', { kind: 'inbox' });
  bus.publish('replicas', { kind: 'outbox' });
  bus.publish('replicas', { kind: 'cancel', buildId: 7, reason: 'cancelled by bob' });
  expect(woke).toMatchObject({ scheduler: 1, relay: 1 });
  expect(cancels).toEqual([[7, 'cancelled by bob']]);
});

it('on a follower: nothing to wake but the runner, which wakes on relayed `queued` rows only', () => {
  const { bus, woke, links } = setup(false);
  stop = () => links.stop();
  bus.publish('replicas', { kind: 'inbox' });
  const build = { id: 1 } as never;
  bus.publish('build', { id: 1, buildId: 1, type: 'started', createdAt: 0, build });
  expect(woke.runner).toBe(0);
  bus.publish('build', { id: 2, buildId: 1, type: 'queued', createdAt: 0, build });
  expect(woke).toEqual({ scheduler: 0, relay: 0, runner: 1, polls: 0 });
  links.stop();
  bus.publish('build', { id: 3, buildId: 1, type: 'queued', createdAt: 0, build });
  expect(woke.runner).toBe(1);
});
