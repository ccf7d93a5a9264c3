import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxRecord } from '../../src/store/ports.js';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

describe('engine: a burst while a build runs (SQLite, scripted executor)', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('builds the running version and the newest one; the 99 in between are superseded, each pointing to its replacement', async () => {
    h = await startHarness(p, { slots: 1 });
    const lifecycle: OutboxRecord[] = [];
    h.bus.subscribe('build', (r) => lifecycle.push(r));
    h.executor.hold('build');
    await h.push('app', 'v0');
    await h.executor.waitUntilRunning(1, 'build');

    for (let i = 1; i <= 100; i++) await h.push('app', `v${i}`);
    await h.decided();

    const during = await h.builds();
    expect(during).toHaveLength(101);
    expect(during[0]).toMatchObject({ id: 1, state: 'running' });
    expect(during[100]).toMatchObject({
      id: 101,
      state: 'queued',
      inputs: [expect.objectContaining({ version: 'v100' })],
    });
    for (const b of during.slice(1, 100)) {
      expect(b.state).toBe('superseded');
      expect(b.relatedBuild).toBe(b.id + 1);
      expect(b.reason).toBe(`superseded by build #${b.id + 1}`);
    }

    h.executor.release('build');
    await h.settle();
    await h.expectHistory([
      { job: 'build', state: 'passed', inputs: { app: 'v0' } },
      ...Array.from({ length: 99 }, (_, i) => ({
        job: 'build',
        state: 'superseded' as const,
        inputs: { app: `v${i + 1}` },
        relatedBuild: i + 3,
      })),
      { job: 'build', state: 'passed', inputs: { app: 'v100' } },
    ]);
    expect(h.executor.runs.map((r) => r.inputs.app)).toEqual(['v0', 'v100']);
    expect(lifecycle.filter((r) => r.type === 'superseded')).toHaveLength(99);
  });

  it('a duplicate webhook during the burst builds nothing more', async () => {
    h = await startHarness(p, { slots: 1 });
    await h.push('app', 'v1', { deliveryId: 'd-1' });
    await h.settle();
    await h.push('app', 'v1', { deliveryId: 'd-2' }); // same version, new delivery
    await h.push('app', 'v1', { deliveryId: 'd-1' }); // the same delivery again
    await h.settle();
    await h.expectHistory([{ job: 'build', state: 'passed', inputs: { app: 'v1' } }]);
    const rules = (await h.decisions({ source: 'app' })).map((d) => d.rule);
    expect(rules).toEqual(['new-version', 'built', 'duplicate']);
  });
});
