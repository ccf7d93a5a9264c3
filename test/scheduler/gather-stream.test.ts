import * as timers from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SchedulerPort } from '../../src/store/ports.js';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { http, job, pipeline } from '../../src/testing/pipeline-builder.js';

// The scheduler's waits, counted: the gathering wait is its only one of 4 ms.
vi.mock('node:timers/promises', async (importOriginal) => {
  const real = await importOriginal<typeof timers>();
  return { ...real, setTimeout: vi.fn(real.setTimeout) };
});
const gatheringWaits = (): number =>
  vi.mocked(timers.setTimeout).mock.calls.filter(([ms]) => ms === 4).length;
const sleep = (ms: number): Promise<void> => timers.setTimeout(ms);

const p = pipeline({
  sources: { tool: http() },
  jobs: { package: job({ inputs: ['tool'] }) },
});

/** Counts the scheduler's transactions and notes when each began (`performance.now()`). */
function countTransactions(h: Harness): number[] {
  const scheduler = h.store.scheduler;
  const batch = scheduler.batchDecisions.bind(scheduler);
  const began: number[] = [];
  const counted: Pick<SchedulerPort, 'batchDecisions'> = {
    batchDecisions: (work) => {
      began.push(performance.now());
      return batch(work);
    },
  };
  Object.assign(scheduler, counted);
  return began;
}

/** `n` events, one per turn of the event loop (as webhooks arrive), then until all are decided. */
async function pushStream(h: Harness, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await h.push('tool', `v${i}`);
    // The scheduler gets a turn between two events, as between two webhooks.
    await new Promise((r) => setImmediate(r));
  }
  await h.decided();
}

describe('scheduler: events in a steady stream are decided a few per transaction', () => {
  let h: Harness;
  afterEach(() => h.stop());

  // On PostgreSQL a push is a commit over the network, often longer than the 4 ms gathered: the
  // count says nothing there (the gathering itself is the same code for both stores).
  const onSqlite = (process.env.NIGHTLESS_TEST_STORE ?? 'sqlite') === 'sqlite';
  it.runIf(onSqlite)(
    'a stream of events, one per turn of the event loop, takes far fewer transactions than events',
    async () => {
      h = await startHarness(p, { slots: 0 });
      const began = countTransactions(h);
      const n = 120;
      await pushStream(h, n);
      const builds = await h.store.read.listBuilds({ limit: 500 });
      // Every event decided, each version queued once (superseding the one before).
      expect(builds).toHaveLength(n);
      // Without gathering, a drain between every two events: ~60 here. Gathered for 4 ms: ~18.
      expect(began.length).toBeLessThan(n * 0.4);
    },
  );

  it('an event after a quiet spell is decided at once, without the wait', async () => {
    h = await startHarness(p, { slots: 0 });
    const began = countTransactions(h);
    const delays: number[] = [];
    for (let i = 0; i < 15; i++) {
      await sleep(30);
      const before = began.length;
      // From the inbox commit on (the push wakes the scheduler as it returns): what is left
      // before the decision's transaction is two small reads, unless the drain waits first.
      await h.push('tool', `v${i}`);
      const at = performance.now();
      await h.decided();
      expect(began.length).toBe(before + 1);
      delays.push((began[before] as number) - at);
    }
    delays.sort((a, b) => a - b);
    // Gathered, each would wait the 4 ms first.
    expect(delays[7]).toBeLessThan(3);
  });

  it('a client that sends each event once the last is decided is not held each time', async () => {
    h = await startHarness(p, { slots: 0 });
    const began = countTransactions(h);
    const waitsBefore = gatheringWaits();
    const delays: number[] = [];
    for (let i = 0; i < 200; i++) {
      const before = began.length;
      await h.push('tool', `v${i}`);
      const at = performance.now();
      await h.decided();
      delays.push((began[before] as number) - at);
    }
    // These drains follow each other within 10 ms, a stream by the clock: each would wait 4 ms
    // for events that never come. The first wait finds none; no event ever arrives while a drain
    // runs, so none waits again (retrying every 16, 32, 64 … drains waited 4 times in these 200).
    expect(gatheringWaits() - waitsBefore).toBeLessThanOrEqual(1);
    delays.sort((a, b) => a - b);
    expect(delays[100]).toBeLessThan(3);
  });

  it.runIf(onSqlite)('after such a client, a stream is gathered again', async () => {
    h = await startHarness(p, { slots: 0 });
    for (let i = 0; i < 20; i++) {
      await h.push('tool', `a${i}`);
      await h.decided();
    }
    const began = countTransactions(h);
    const n = 120;
    await pushStream(h, n);
    expect(began.length).toBeLessThan(n * 0.4);
  });
});
