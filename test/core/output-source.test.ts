import { describe, expect, it } from 'vitest';
import { outputSourceName, splitOutputSource } from '../../src/core/output-source.js';

describe('job output source names', () => {
  it('name an output `job.output` and split back into the same job and output', () => {
    const name = outputSourceName('build', 'dist');
    expect(name).toBe('build.dist');
    expect(splitOutputSource(name)).toEqual({ job: 'build', output: 'dist' });
  });

  it('say a source without a dot is no job output', () => {
    expect(splitOutputSource('app')).toBeNull();
  });
});
