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

    // The batch holding v3 fails at v3, after v2 was written in it (a full disk). Usually v2 and
    // v3 share one batch, so the failed batch's v2 must be forgotten; on a machine slow enough
    // to split them, v2 commits on its own and the rest of the story is the same.
    const store: SchedulerPort = h.store.scheduler;
    const real = store.batchDecisions.bind(store);
    let failures = 0;
    const failing: SchedulerPort['batchDecisions'] = (work) =>
      real((writer) =>
        work({
          applyDecisions: (event, ...rest) => {
            if (failures > 0 || event.kind !== 'source' || event.version !== 'v3')
              return writer.applyDecisions(event, ...rest);
            failures += 1;
            return Promise.reject(new Error('disk I/O error'));
          },
        }),
      );
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
