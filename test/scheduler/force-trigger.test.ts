import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

describe('engine: manual triggers', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('does not rebuild identical inputs unless forced, and a forced build says so', async () => {
    h = await startHarness(p, { slots: 1 });
    await h.push('app', 'v1');
    await h.settle();

    const plain = await h.engine.trigger('build', { force: false, by: 'alice' });
    expect(plain.build).toBeNull();
    expect(plain.decisions.map((d) => d.rule)).toEqual(['same-fingerprint']);
    expect(plain.decisions[0]?.detail).toContain('build #1');

    const forced = await h.engine.trigger('build', { force: true, by: 'alice' });
    expect(forced.build).toMatchObject({
      id: 2,
      forced: true,
      cause: { kind: 'manual', forced: true, by: 'alice' },
    });
    expect(forced.decisions.map((d) => d.rule)).toEqual(['forced']);
    expect(forced.decisions[0]?.detail).toContain('forced: rebuilds identical inputs');
    await h.settle();

    await h.expectHistory([
      { job: 'build', state: 'passed', forced: false, inputs: { app: 'v1' } },
      { job: 'build', state: 'passed', forced: true, inputs: { app: 'v1' } },
    ]);
    expect(h.executor.runs.map((r) => r.inputs)).toEqual([{ app: 'v1' }, { app: 'v1' }]);
    expect((await h.builds())[0]?.fingerprint).toBe((await h.builds())[1]?.fingerprint);
  });

  it('cancelling a forced rebuild does not make the original inputs buildable again', async () => {
    h = await startHarness(p, { slots: 1 });
    await h.push('app', 'v1');
    await h.settle();
    h.executor.hold('build');
    const forced = await h.engine.trigger('build', { force: true, by: 'bob' });
    await h.executor.waitUntilRunning(1, 'build');
    await h.engine.cancel(forced.build!.id, 'bob');
    h.executor.release('build');
    await h.settle();

    const again = await h.engine.trigger('build', { force: false, by: 'bob' });
    expect(again.build).toBeNull();
    expect(again.decisions.map((d) => d.rule)).toEqual(['same-fingerprint']);
    await h.expectHistory([
      { job: 'build', state: 'passed' },
      { job: 'build', state: 'cancelled', forced: true, reason: 'cancelled by bob' },
    ]);
  });
});
