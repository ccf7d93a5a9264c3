import { expect, it } from 'vitest';
import type { SourceEvent } from '../../../src/core/event.js';
import type { Decision } from '../../../src/core/scheduler/index.js';
import type { RunResult } from '../../../src/executor/port.js';
import type { StoreUnderTest } from '../ports.js';
import { queue, reads, scheduler } from '../ports.js';
import {
  eventFor,
  finished,
  forEachStore,
  outputEvent,
  passed,
  queueBuild,
  sha,
  skip,
} from './fixtures.js';

const traces = (s: StoreUnderTest) => s.traces;

/** A build of `job` caused by event `e` (the root, or an output event of an upstream build). */
async function queueFor(s: StoreUnderTest, e: SourceEvent, job: string, now: number) {
  const applied = await scheduler(s).applyDecisions(
    e,
    [
      queueBuild(`fp-${job}-${e.id}`, e.version, {
        job,
        source: e.source,
        concurrency: { group: job, limit: 1, supersede: true },
        inputs: [
          { source: e.source, version: e.version, origin: e.origin, eventId: e.id, ref: e.ref },
        ],
        cause: { kind: 'version', source: e.source, version: e.version, eventId: e.id },
      }),
    ],
    now,
  );
  return applied.queued[0]!.id;
}

/** Runs build `id` to `passed`, announcing output `a.dist` (digest `out`) when given. */
async function runToEnd(s: StoreUnderTest, id: number, now: number, out?: string) {
  await queue(s).claimNextBuild('w', now - 10);
  await queue(s).finishBuild(
    id,
    {
      ...finished(passed()),
      outputEvents:
        out === undefined ? [] : [{ ...outputEvent('a.dist', out, id), receivedAt: now }],
    },
    now,
  );
}

async function pendingOutput(s: StoreUnderTest): Promise<SourceEvent> {
  const [e] = await scheduler(s).pendingEvents(10);
  if (e?.kind !== 'source' || e.origin !== 'output') throw new Error('expected an output event');
  return e;
}

forEachStore('version traces (lead_time)', (store) => {
  it('a chain is done only when the downstream build decided after the upstream ends is done', async () => {
    const root = await eventFor(store(), sha(1));
    const a = await queueFor(store(), root, 'a', 2000);
    const open = [{ type: 'trace', root: root.id, receivedAt: 1000, doneAt: null }];
    expect(await traces(store()).settleTraces([root.id])).toEqual(open);

    // a ends: nothing of the trace is queued or running — but its output is not decided yet.
    await runToEnd(store(), a, 3000, 'o1'.padEnd(64, '0'));
    expect(await traces(store()).settleTraces([root.id])).toEqual(open);

    // The output event queues b (same transaction as its processing): still open.
    const out = await pendingOutput(store());
    const b = await queueFor(store(), out, 'b', 3500);
    expect(await traces(store()).settleTraces([root.id])).toEqual(open);
    expect((await reads(store()).getBuild(b))!.state).toBe('queued');

    await runToEnd(store(), b, 9000);
    const done = [{ type: 'trace', root: root.id, receivedAt: 1000, doneAt: 9000 }];
    expect(await traces(store()).settleTraces([root.id])).toEqual(done);
    // Idempotent, and asked of the output event (not a root) or an unknown id it answers nothing.
    expect(await traces(store()).settleTraces([root.id, out.id, 4242])).toEqual(done);
  });

  it('settles racing the chain (other connections) never see it done early', async () => {
    const root = await eventFor(store(), sha(10));
    const a = await queueFor(store(), root, 'a', 2000);
    let stop = false;
    const seen: Array<number | null> = [];
    // Asks over and over while the chain moves on; bounded, and stops once the chain is done.
    const asking = (async () => {
      for (let i = 0; i < 5_000 && !stop; i++) {
        const [t] = await traces(store()).settleTraces([root.id]);
        seen.push(t?.doneAt ?? null);
        if (t?.doneAt != null) return;
      }
    })();
    await runToEnd(store(), a, 3000, 'o10'.padEnd(64, '0'));
    const b = await queueFor(store(), await pendingOutput(store()), 'b', 3500);
    await runToEnd(store(), b, 9000);
    stop = true;
    await asking;
    expect(seen.length).toBeGreaterThan(0);
    // Done is recorded once: an early verdict would have stuck at 3000 (a's end) or 3500.
    expect(seen.filter((d) => d !== null).every((d) => d === 9000)).toBe(true);
    expect((await traces(store()).settleTraces([root.id]))[0]!.doneAt).toBe(9000);
  });

  it('an output nobody builds on ends the trace when it is decided, at that time', async () => {
    const root = await eventFor(store(), sha(2));
    const a = await queueFor(store(), root, 'a', 2000);
    await runToEnd(store(), a, 3000, 'o2'.padEnd(64, '0'));
    expect((await traces(store()).settleTraces([root.id]))[0]!.doneAt).toBeNull();
    await scheduler(store()).applyDecisions(await pendingOutput(store()), [], 4200);
    expect((await traces(store()).settleTraces([root.id]))[0]!.doneAt).toBe(4200);
  });

  it('a retry stays in the trace: not done while the retry waits or runs', async () => {
    const root = await eventFor(store(), sha(3));
    const a = await queueFor(store(), root, 'a', 2000);
    await queue(store()).claimNextBuild('w', 2100);
    const networkError = {
      state: 'error',
      code: 'network',
      step: null,
      reason: 'git fetch failed: Connection refused',
      outputs: [],
      coverage: null,
      warnings: [],
    } as unknown as RunResult;
    await queue(store()).finishBuild(a, { ...finished(networkError), retryAt: 2500 }, 2200);
    expect((await traces(store()).settleTraces([root.id]))[0]!.doneAt).toBeNull();
    await queue(store()).claimNextBuild('w', 2600);
    await queue(store()).finishBuild(a + 1, finished(), 5000);
    expect((await traces(store()).settleTraces([root.id]))[0]!.doneAt).toBe(5000);
  });

  it('a version that only skipped is done at once; one that built nothing is no trace', async () => {
    const root = await eventFor(store(), sha(4));
    await scheduler(store()).applyDecisions(
      root,
      [
        {
          ...(skip('fp4', root.version, 1) as Extract<Decision, { kind: 'record-skip' }>),
          cause: { kind: 'version', source: 'app', version: root.version, eventId: root.id },
        },
      ],
      2000,
    );
    expect(await traces(store()).settleTraces([root.id])).toEqual([
      { type: 'trace', root: root.id, receivedAt: 1000, doneAt: 2000 },
    ]);
    const nothing = await eventFor(store(), sha(5));
    await scheduler(store()).applyDecisions(nothing, [], 2000);
    expect(await traces(store()).settleTraces([nothing.id])).toEqual([]);
  });

  it('a superseded build ends its version’s trace (the newer version is counted on its own)', async () => {
    const v1 = await eventFor(store(), sha(6));
    const b1 = await queueFor(store(), v1, 'a', 2000);
    const v2 = await eventFor(store(), sha(7));
    await scheduler(store()).applyDecisions(
      v2,
      [
        queueBuild('fp7', v2.version, {
          job: 'a',
          concurrency: { group: 'a', limit: 1, supersede: true },
          cause: { kind: 'version', source: 'app', version: v2.version, eventId: v2.id },
          supersedes: [b1],
        }),
      ],
      2300,
    );
    const [s1, s2] = await traces(store()).settleTraces([v1.id, v2.id]);
    expect(s1).toMatchObject({ root: v1.id, doneAt: 2300 });
    expect(s2).toMatchObject({ root: v2.id, doneAt: null });
  });

  it('sloHistory lists open and done traces of the window', async () => {
    const root = await eventFor(store(), sha(8));
    const a = await queueFor(store(), root, 'a', 2000);
    const open = await eventFor(store(), sha(9));
    await queueFor(store(), open, 'b', 2100);
    await runToEnd(store(), a, 3000);
    await traces(store()).settleTraces([root.id]);
    const history = (await reads(store()).sloHistory(2500)).filter((o) => o.type === 'trace');
    expect(history).toEqual(
      expect.arrayContaining([
        { type: 'trace', root: root.id, receivedAt: 1000, doneAt: 3000 },
        { type: 'trace', root: open.id, receivedAt: 1000, doneAt: null },
      ]),
    );
    expect(history).toHaveLength(2);
  });
});
