import { afterEach, describe, expect, it, vi } from 'vitest';
import type { SchedulerPort } from '../../src/store/ports.js';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

describe('engine: a batch of decisions that fails to commit (SQLite, scripted executor)', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('forgets what the failed batch decided, retries on its own, and loses no event', async () => {
    h = await startHarness(p, { slots: 0 });
    await h.push('app', 'v1');
    await h.decided();

    // The next batch fails at its second event, after the first (v2) was written (a full disk).
    const store = h.store as SchedulerPort;
    const real = store.batchDecisions.bind(store);
    let failures = 0;
    const failing: SchedulerPort['batchDecisions'] = (work) =>
      real((writer) => {
        let calls = 0;
        return work({
          applyDecisions: (...args) => {
            calls += 1;
            if (calls === 1) return writer.applyDecisions(...args);
            failures += 1;
            return Promise.reject(new Error('disk I/O error'));
          },
        });
      });
    Object.assign(store, { batchDecisions: failing });
    await h.engine.ingestMany([h.sourceEvent('app', 'v2'), h.sourceEvent('app', 'v3')]);
    await vi.waitFor(() => expect(failures).toBe(1), { timeout: 2000, interval: 10 });
    delete (store as Partial<SchedulerPort>).batchDecisions;

    // The scheduler tries again by itself; had it kept the failed batch's head (v2) in memory,
    // v2 would now be "already the head" and never built.
    await vi.waitFor(
      async () => {
        expect((await h.builds()).map((b) => [b.inputs[0]?.version, b.state])).toEqual([
          ['v1', 'superseded'],
          ['v2', 'superseded'],
          ['v3', 'queued'],
        ]);
      },
      { timeout: 5000, interval: 50 },
    );
    const decisions = await h.decisions();
    expect(decisions.filter((d) => d.version === 'v2').map((d) => d.rule)).toContain('new-version');
  });
});
