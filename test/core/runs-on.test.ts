import { describe, expect, it } from 'vitest';
import { claimableJobs, waitingFor } from '../../src/core/runs-on.js';
import type { Pipeline } from '../../src/core/pipeline.js';

const pipeline = (jobs: Record<string, readonly string[] | undefined>): Pipeline =>
  ({
    jobs: new Map(Object.entries(jobs).map(([name, runsOn]) => [name, { name, runsOn }])),
  }) as unknown as Pipeline;

describe('runs_on', () => {
  it('a claimer takes the jobs whose labels it all has; null when that is every job', () => {
    const p = pipeline({ any: undefined, arm: ['arm64', 'linux'], mac: ['macos'] });
    expect(claimableJobs(p, [])).toEqual(['any']);
    expect(claimableJobs(p, ['linux'])).toEqual(['any']);
    expect(claimableJobs(p, ['linux', 'arm64', 'big'])).toEqual(['any', 'arm']);
    expect(claimableJobs(p, ['linux', 'arm64', 'macos'])).toBeNull();
    expect(claimableJobs(pipeline({ a: undefined, b: [] }), [])).toBeNull();
  });

  it('says what a queued build waits for', () => {
    expect(waitingFor({ runsOn: ['arm64', 'linux'] })).toBe(
      'waiting for an agent with arm64, linux',
    );
    expect(waitingFor({ runsOn: [] })).toBeNull();
    expect(waitingFor({})).toBeNull();
  });
});
