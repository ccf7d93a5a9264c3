import { describe, expect, it } from 'vitest';
import { ConfigError, parsePipeline } from '../../src/config/index.js';
import { KEEP_EVERYTHING } from '../../src/core/retention.js';

const parse = (text: string) => parsePipeline(text, '/p/nightless.yaml', { env: {} });

function problems(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError)
      return err.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('retention in nightless.yaml', () => {
  it('defaults to keeping everything but the artifact window', () => {
    const p = parse('jobs:\n  a:\n    steps: [make]\n');
    expect(p.retention).toEqual(KEEP_EVERYTHING);
    expect(p.jobs.get('a')?.retention).toEqual(KEEP_EVERYTHING);
  });

  it('applies a job’s keys over the pipeline’s, key by key; artifacts never exceed builds', () => {
    const p = parse(`
retention: { builds: 50, age: 30d }
jobs:
  a:
    steps: [make]
    retention: { builds: 5 }
  b:
    steps: [make]
    retention: { age: 3600, artifacts: 40 }
`);
    const DAY = 86_400_000;
    expect(p.retention).toEqual({ builds: 50, ageMs: 30 * DAY, artifacts: 20 });
    expect(p.jobs.get('a')?.retention).toEqual({ builds: 5, ageMs: 30 * DAY, artifacts: 5 });
    expect(p.jobs.get('b')?.retention).toEqual({ builds: 50, ageMs: 3_600_000, artifacts: 40 });
  });

  it('reports bad values at their line and column', () => {
    expect(
      problems(`retention: { builds: 0, age: 2x }
jobs:
  a:
    steps: [make]
    retention: { bilds: 5, age: 40000d }
`),
    ).toEqual([
      '1:22 retention.builds: invalid builds 0: keep at least 1 build',
      '1:30 retention.age: invalid duration "2x": use e.g. 500ms, 90s, 10m, 1h, 1h30m or a number of seconds',
      '5:18 jobs.a.retention: unknown key "bilds" (did you mean "builds"?)',
      '5:33 jobs.a.retention.age: invalid duration "40000d": longer than the maximum of 36500 days',
    ]);
  });

  it('a timer duration past 24 days is a located error, not a crash', () => {
    expect(problems('jobs:\n  a:\n    timeout: 30d\n    steps: [make]\n')).toEqual([
      '3:14 jobs.a.timeout: invalid duration "30d": longer than the maximum of 24 days, or off',
    ]);
  });
});
