import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

describe('engine: restart recovery', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('marks a build left running as error (lost) and re-queues it once', async () => {
    h = await startHarness(p, { slots: 1 });
    h.executor.hold('build');
    await h.push('app', 'v1');
    await h.executor.waitUntilRunning(1, 'build');

    await h.restart(); // the process dies with #1 running
    await h.executor.waitUntilRunning(1, 'build');
    const [lost, retry] = await h.builds();
    expect(lost).toMatchObject({ id: 1, state: 'error', relatedBuild: 2, attempt: 1 });
    expect(lost?.reason).toMatch(/^lost/);
    expect(retry).toMatchObject({
      id: 2,
      state: 'running',
      attempt: 2,
      cause: { kind: 'retry', previousBuild: 1 },
      fingerprint: lost?.fingerprint,
    });

    h.executor.release('build');
    await h.settle();
    await h.restart(); // a clean restart finds nothing to recover or schedule
    await h.settle();
    await h.expectHistory([
      { job: 'build', state: 'error', attempt: 1 },
      { job: 'build', state: 'passed', attempt: 2, inputs: { app: 'v1' } },
    ]);
  });

  it('does not re-queue a lost retry again (maxAttempts 2)', async () => {
    h = await startHarness(p, { slots: 1 });
    h.executor.hold('build');
    await h.push('app', 'v1');
    await h.executor.waitUntilRunning(1, 'build');
    await h.restart();
    await h.executor.waitUntilRunning(1, 'build');
    await h.restart(); // attempt 2 is lost as well
    await h.decided();
    await h.expectHistory([
      { job: 'build', state: 'error', attempt: 1, reason: /^lost/ },
      { job: 'build', state: 'error', attempt: 2, reason: /^lost/ },
    ]);
    // Its fingerprint still counts as built: a duplicate push doesn't build, a new version does.
    h.executor.release('build');
    await h.push('app', 'v1', { origin: 'poll' });
    await h.settle();
    expect(await h.builds()).toHaveLength(2);
  });
});
