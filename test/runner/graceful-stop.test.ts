import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({
  sources: { app: git('main') },
  jobs: { build: job({ inputs: ['app'] }), lint: job({ inputs: ['app'] }) },
});

/** `engine.stop()` is the graceful shutdown; `h.restart()` simulates a crash (see restart-recovery). */
describe('engine: graceful stop', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('re-queues the running build (one `queued` event); the next engine runs the same build once', async () => {
    h = await startHarness(p, { slots: 2 });
    h.executor.hold('build');
    await h.push('app', 'v1');
    await h.executor.waitUntilRunning(1, 'build');
    await vi.waitFor(
      async () => expect((await h.builds()).find((b) => b.job === 'lint')?.state).toBe('passed'),
      { timeout: 5000, interval: 20 },
    );
    const before = await h.store.read.lastOutboxId();

    await h.engine.stop();
    expect((await h.builds()).map((b) => [b.job, b.state, b.startedAt])).toEqual([
      ['build', 'queued', null],
      ['lint', 'passed', expect.any(Number)],
    ]);
    const events = await h.store.outbox.outboxSince(before, 10);
    expect(events.map((e) => [e.buildId, e.type])).toEqual([[1, 'queued']]);

    h.executor.release('build');
    await h.restart(); // nothing is running any more: nothing is lost
    await h.settle();
    await h.expectHistory([
      { job: 'build', state: 'passed', attempt: 1 },
      { job: 'lint', state: 'passed', attempt: 1 },
    ]);
    const after = await h.store.outbox.outboxSince(before, 10);
    expect(after.filter((e) => e.type === 'finished').map((e) => e.buildId)).toEqual([1]);
  });

  it('keeps the cancel of a build cancelled just before the stop: not re-queued', async () => {
    h = await startHarness(p, { slots: 2 });
    h.executor.hold('build');
    h.executor.hold('lint');
    await h.push('app', 'v1');
    await h.executor.waitUntilRunning(2);
    const cancelled = h.engine.cancel(1, 'alice');
    await h.engine.stop();
    await cancelled;
    expect((await h.builds()).map((b) => [b.job, b.state, b.reason])).toEqual([
      ['build', 'cancelled', 'cancelled by alice'],
      ['lint', 'queued', null],
    ]);
  });
});
