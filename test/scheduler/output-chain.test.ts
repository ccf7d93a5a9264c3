import { afterEach, describe, expect, it } from 'vitest';
import type { Harness } from '../../src/testing/harness.js';
import { startHarness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({
  sources: { app: git('main') },
  jobs: {
    a: job({ inputs: ['app'], outputs: { dist: 'dist/*.tgz' }, steps: ['make dist'] }),
    b: job({ inputs: ['a.dist'], steps: ['./integration.sh'] }),
  },
});

describe('engine: chained outputs and early cutoff', () => {
  let h: Harness;
  afterEach(() => h.stop());

  it('builds b from a new output of a, and not when a rebuild makes identical output', async () => {
    h = await startHarness(p, { slots: 1 });
    h.executor.script(
      'a',
      { state: 'passed', outputs: { dist: 'sha-1' } },
      { state: 'passed', outputs: { dist: 'sha-1' } },
    );

    await h.push('app', 'v1');
    await h.settle();
    await h.expectHistory([
      { job: 'a', state: 'passed', inputs: { app: 'v1' } },
      { job: 'b', state: 'passed', inputs: { 'a.dist': 'sha-1' }, cause: 'version' },
    ]);

    await h.push('app', 'v2'); // a rebuilds; its output is byte-identical
    await h.settle();
    await h.expectHistory([
      { job: 'a', state: 'passed' },
      { job: 'b', state: 'passed' },
      { job: 'a', state: 'passed', inputs: { app: 'v2' } },
    ]);
    const why = await h.decisions({ job: 'b' });
    expect(why.map((d) => d.rule)).toEqual(['built', 'early-cutoff']);
    expect(why[1]?.detail).toMatch(
      /output a\.dist of build #3 is identical to build #1's: nothing downstream runs/,
    );
    expect(why[1]?.origin).toBe('output');

    await h.push('app', 'v3'); // unscripted: a new digest, so b runs again
    await h.settle();
    const builds = await h.builds();
    expect(builds.map((b) => `${b.job}:${b.state}`)).toEqual([
      'a:passed',
      'b:passed',
      'a:passed',
      'a:passed',
      'b:passed',
    ]);
    expect(builds[4]?.inputs[0]?.version).not.toBe('sha-1');
  });

  it('a failed upstream build announces no output: b keeps waiting', async () => {
    h = await startHarness(p, { slots: 1 });
    h.executor.script('a', { state: 'failed' });
    await h.push('app', 'v1');
    await h.settle();
    await h.expectHistory([{ job: 'a', state: 'failed', reason: /exited with 1/ }]);
    expect(await h.decisions({ job: 'b' })).toEqual([]);
  });
});
