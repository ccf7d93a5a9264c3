import { stat } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Ancestry } from '../../src/core/event.js';
import type { SchedulerPort } from '../../src/store/ports.js';
import type { VersionFacts } from '../../src/scheduler/version-facts.js';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

/**
 * A webhook's bytes, already on the socket when a scheduling transaction starts: whether the
 * event loop read them before the next transaction (it polled for I/O in between) or not.
 */
async function socketProbe(): Promise<{
  /** Sends a byte now; `true` when the byte sent by the previous call has been read since. */
  readSinceLast(): boolean;
  close(): Promise<void>;
}> {
  let read = 0;
  const server: Server = createServer((s) => s.on('data', (b) => (read += b.length)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  const client: Socket = connect(port, '127.0.0.1');
  client.setNoDelay(true);
  await new Promise<void>((r) => client.once('connect', r));
  let sent = 0;
  return {
    readSinceLast() {
      const ok = read === sent;
      // Waits for the previous byte only: one that never arrives is counted once, not forever.
      read = sent;
      client.write('x');
      sent += 1;
      return ok;
    },
    async close() {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('scheduler: draining a backlog lets the event loop read sockets between transactions', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('polls for I/O between any two slices, also after an ancestry answer that came from I/O', async () => {
    // Each answer arrives in an I/O callback (as from git); the versions after the first are
    // answered without waiting (as after a start-early round that settled them all at once).
    let asked = 0;
    const facts: VersionFacts = {
      relation: async () => {
        asked += 1;
        await stat('.');
        return 'descendant';
      },
      known: (_s, version, head): Ancestry | null =>
        Number(version.slice(1)) % 50 === 0 ? null : { relation: 'unknown', head, reason: 'r' },
    };
    h = await startHarness(p, { slots: 0, facts });
    await h.push('app', 'v0');
    await h.decided();

    const scheduler = h.store.scheduler;
    const held: Partial<SchedulerPort> = { pendingEvents: () => Promise.resolve([]) };
    Object.assign(scheduler, held);
    const events = Array.from({ length: 1500 }, (_, i) => h.sourceEvent('app', `v${i + 1}`));
    await h.engine.ingestMany(events);
    delete (scheduler as Partial<SchedulerPort>).pendingEvents;

    const probe = await socketProbe();
    const batch = scheduler.batchDecisions.bind(scheduler);
    let slices = 0;
    let backToBack = 0;
    const counted: Pick<SchedulerPort, 'batchDecisions'> = {
      batchDecisions: (work) => {
        slices += 1;
        if (!probe.readSinceLast() && slices > 1) backToBack += 1;
        return batch(work);
      },
    };
    Object.assign(scheduler, counted);
    try {
      await h.engine.ingestMany([]); // wakes the scheduler
      await h.decided();
    } finally {
      delete (scheduler as Partial<SchedulerPort>).batchDecisions;
      await probe.close();
    }

    expect((await h.builds()).at(-1)?.inputs[0]?.version).toBe('v1500');
    expect(asked).toBeGreaterThanOrEqual(30);
    expect(slices).toBeGreaterThan(asked);
    expect(backToBack).toBe(0);
  });
});
