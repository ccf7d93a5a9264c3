import { describe, expect, it } from 'vitest';
import { definitionHash } from '../../src/core/fingerprint.js';
import { decide } from '../../src/core/scheduler/index.js';
import { events } from '../../src/testing/given-state.js';
import { ModelStore } from '../../src/testing/model-snapshot.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const v1 = pipeline({
  sources: { app: git('main') },
  jobs: { build: job({ inputs: ['app'], steps: ['make'] }) },
});
const v2 = pipeline({
  sources: { app: git('main') },
  jobs: { build: job({ inputs: ['app'], steps: ['make all'] }) },
});

describe('MemorySnapshot', () => {
  it('records the definition a build was decided with, even when a reload lands before the commit', () => {
    const m = new ModelStore(v1);
    const event = events.source('app', 'a1', { ref: 'main' });
    const ds = decide(m.snapshot, event, 0); // decided with v1
    m.snapshot.setPipeline(v2); // Engine.setPipeline runs while applyDecisions is awaited
    m.snapshot.applied(m.apply(event, ds, 0), ds);

    expect(m.snapshot.lastDefinitionHash('build')).toBe(definitionHash(v1.jobs.get('build')!));
    const reconcile = decide(m.snapshot, events.reconcile(2), 0);
    expect(reconcile.map((d) => `${d.kind} ${d.rule}`)).toEqual(['queue-build definition-changed']);
  });

  it('keeps a fingerprint built while another build of it leaves the queue', () => {
    const m = new ModelStore(v1);
    m.step(events.source('app', 'a1', { ref: 'main' }), 0);
    m.transition(1, 'running');
    m.step(events.trigger('build', { force: true }), 0);
    m.transition(2, 'cancelled');
    expect(m.snapshot.buildWithFingerprint(m.builds[0]!.fingerprint)?.id).toBe(1);
    m.transition(1, 'passed');
    expect(m.snapshot.buildWithFingerprint(m.builds[0]!.fingerprint)).toMatchObject({
      id: 1,
      state: 'passed',
    });
  });
});
