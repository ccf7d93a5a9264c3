import { describe, expect, it } from 'vitest';
import type { BuildInput } from '../../src/core/build.js';
import { concurrencyGroup } from '../../src/core/concurrency-group.js';
import { amqp, git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const p = pipeline({
  sources: { app: git(['main', 'dev']), lib: git('main'), glibc: amqp() },
  jobs: {
    build: job({ inputs: ['app', 'lib'], outputs: { dist: ['dist/*'] } }),
    libfirst: job({ inputs: ['glibc', 'lib', 'app'] }),
    bin: job({ inputs: ['glibc'] }),
    none: job({ inputs: [] }),
    dist: job({ inputs: ['build.dist'] }),
  },
});

const input = (source: string, ref: string | null): BuildInput => ({
  source,
  version: 'v',
  ref,
  origin: null,
  eventId: null,
});

describe('concurrencyGroup: the job and the branch of its first git input', () => {
  const rows: Array<[string, string, BuildInput[], string]> = [
    ['one git input on main', 'build', [input('app', 'main'), input('lib', 'main')], 'build@main'],
    ['one git input on dev', 'build', [input('app', 'dev'), input('lib', 'main')], 'build@dev'],
    [
      'the first git input in inputs: order decides, non-git inputs before it do not',
      'libfirst',
      [input('glibc', null), input('lib', 'main'), input('app', 'dev')],
      'libfirst@main',
    ],
    ['no git input: the job alone', 'bin', [input('glibc', null)], 'bin'],
    ['no inputs at all', 'none', [], 'none'],
    ['a job output only', 'dist', [input('build.dist', null)], 'dist'],
    ['a git version without a known branch', 'build', [input('app', null)], 'build'],
  ];
  for (const [name, jobName, inputs, want] of rows) {
    it(name, () => {
      expect(concurrencyGroup(p, p.jobs.get(jobName)!, inputs)).toBe(want);
    });
  }
});
