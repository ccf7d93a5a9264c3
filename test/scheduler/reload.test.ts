import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import type { JobSpec } from '../../src/testing/pipeline-builder.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const withBuild = (spec: JobSpec) =>
  pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'], ...spec }) } });

describe('engine: reloading the pipeline', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('schedules a changed definition once and an identical reload not at all', async () => {
    h = await startHarness(withBuild({ steps: ['make'] }), { slots: 1 });
    await h.push('app', 'v1');
    await h.settle();

    await h.setPipeline(withBuild({ steps: ['make'] })); // an equal pipeline, a new object
    await h.settle();
    await h.setPipeline(
      withBuild({ steps: ['make'], supersede: false, quietPeriodMs: null, branches: ['main'] }),
    ); // knobs only
    await h.settle();
    await h.expectHistory([{ job: 'build', state: 'passed' }]);

    await h.setPipeline(withBuild({ steps: ['make all'] }));
    await h.settle();
    await h.setPipeline(withBuild({ steps: ['make all'] }));
    await h.settle();
    await h.expectHistory([
      { job: 'build', state: 'passed', cause: 'version' },
      { job: 'build', state: 'passed', cause: 'definition', inputs: { app: 'v1' } },
    ]);
    const why = await h.decisions({ job: 'build' });
    expect(why.map((d) => d.rule)).toEqual(['built', 'definition-changed']);

    await h.restart(); // start-up reconciles too: nothing changed
    await h.settle();
    expect(await h.builds()).toHaveLength(2);
  });

  it('a definition changed back to one already built schedules nothing', async () => {
    h = await startHarness(withBuild({ steps: ['make'] }), { slots: 1 });
    await h.push('app', 'v1');
    await h.settle();
    await h.setPipeline(withBuild({ steps: ['make all'] }));
    await h.settle();
    await h.setPipeline(withBuild({ steps: ['make'] }));
    await h.settle();
    expect((await h.builds()).map((b) => b.cause.kind)).toEqual(['version', 'definition']);
  });
});
