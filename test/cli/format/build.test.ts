import { describe, expect, it } from 'vitest';
import {
  buildDuration,
  formatBuildDetail,
  formatCause,
  formatCoverage,
  formatReason,
  formatRelated,
  formatSize,
} from '../../../src/cli/format/build.js';
import { formatBuildsTable, formatStatusTable } from '../../../src/cli/format/builds-table.js';
import { createColours } from '../../../src/cli/format/colour.js';
import { T0, makeBuild, makeDetail } from '../helpers/builds.js';

const plain = createColours(false);

describe('build formatting', () => {
  it('formatCoverage shows figures with signed deltas', () => {
    expect(
      formatCoverage({ lines: 81.2, branches: 70.44, linesDelta: 1.3, branchesDelta: -0.2 }),
    ).toBe('lines 81.2% (+1.3), branches 70.4% (-0.2)');
    expect(formatCoverage({ lines: 50, branches: null, linesDelta: 0, branchesDelta: null })).toBe(
      'lines 50.0% (±0.0)',
    );
    expect(
      formatCoverage({ lines: 50, branches: null, linesDelta: null, branchesDelta: null }),
    ).toBe('lines 50.0%');
    expect(
      formatCoverage({ lines: null, branches: null, linesDelta: null, branchesDelta: null }),
    ).toBeNull();
    expect(formatCoverage(null)).toBeNull();
  });

  it('formatCause says why the build exists', () => {
    expect(
      formatCause({ kind: 'version', source: 'app', version: 'a'.repeat(40), eventId: 3 }),
    ).toBe('new version app@aaaaaaaaaa (event 3)');
    expect(formatCause({ kind: 'manual', forced: true, by: 'api' })).toBe(
      'manual trigger by api (forced)',
    );
    expect(formatCause({ kind: 'definition' })).toBe('the job definition changed');
    expect(formatCause({ kind: 'retry', previousBuild: 9 })).toBe('retry of build #9 (lost)');
    expect(formatCause({ kind: 'settled', quietPeriodMs: 30_000 })).toBe(
      'quiet period of 30s settled',
    );
  });

  it('formatReason and formatRelated', () => {
    expect(
      formatReason(makeBuild({ state: 'failed', failedStep: 'npm test', reason: 'exit code 1' })),
    ).toBe('step "npm test": exit code 1');
    expect(formatReason(makeBuild({ state: 'superseded', relatedBuild: 50 }))).toBe(
      'superseded by #50',
    );
    expect(formatReason(makeBuild())).toBeNull();
    expect(formatRelated(makeBuild({ state: 'skipped', relatedBuild: 40 }))).toBe(
      'identical to #40',
    );
  });

  it('buildDuration is null before the start and counts up while running', () => {
    expect(buildDuration(makeBuild({ startedAt: null, finishedAt: null }), T0)).toBeNull();
    expect(buildDuration(makeBuild({ finishedAt: null }), T0 + 12_000)).toBe(10_000);
    expect(buildDuration(makeBuild(), 0)).toBe(90_000);
  });

  it('formatSize', () => {
    expect(formatSize(12)).toBe('12 B');
    expect(formatSize(2560)).toBe('2.5 KiB');
    expect(formatSize(1_258_291)).toBe('1.2 MiB');
    expect(formatSize(50 * 1024 * 1024)).toBe('50 MiB');
  });

  it('formatBuildDetail lists what `show` promises', () => {
    const lines = formatBuildDetail(
      makeDetail({
        state: 'superseded',
        relatedBuild: 43,
        reason: 'newer inputs arrived',
        coverage: { lines: 81.2, branches: null, linesDelta: 1.3, branchesDelta: null },
        outputs: [
          {
            name: 'reports',
            digest: 'b'.repeat(64),
            files: [
              { path: 'a.xml', digest: 'c'.repeat(64), size: 10 },
              { path: 'b.xml', digest: 'd'.repeat(64), size: 20 },
            ],
          },
        ],
        warnings: ['slow disk'],
      }),
      T0 + 600_000,
      plain,
    );
    const text = lines.join('\n');
    expect(lines[0]).toBe('build #42');
    expect(text).toMatch(/^state: +superseded$/m);
    expect(text).toMatch(/^related: +superseded by #43$/m);
    expect(text).toMatch(/^reason: +newer inputs arrived$/m);
    expect(text).toMatch(/^coverage: +lines 81\.2% \(\+1\.3\)$/m);
    expect(text).toMatch(/^outputs: +reports {2}output digest bbbbbbbbbb {2}2 files, 30 B$/m);
    expect(text).toMatch(/^ +a\.xml {2}file sha256 cccccccccc {2}10 B$/m);
    expect(text).toMatch(/^finished: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(8m ago\)$/m);
    expect(text).toMatch(/^warnings: +! slow disk$/m);
  });
});

describe('tables', () => {
  it('status: latest build per job; reason only for failed/error/skipped...; last result while active', () => {
    const lines = formatStatusTable(
      [
        {
          name: 'build',
          inputs: [],
          steps: 1,
          outputs: [],
          latest: makeBuild({ id: 43, state: 'running', finishedAt: null }),
          lastFinished: makeBuild({ state: 'failed', reason: 'exit code 2' }),
          runsOn: [],
          waiting: null,
        },
        {
          name: 'lint',
          inputs: [],
          steps: 1,
          outputs: [],
          latest: makeBuild({ id: 9 }),
          lastFinished: null,
          runsOn: [],
          waiting: null,
        },
      ],
      T0 + 180_000,
      plain,
    );
    expect(lines[0]).toMatch(/^JOB\s+STATE\s+BUILD\s+INPUTS\s+WHEN\s+REASON$/);
    expect(lines[1]).toMatch(
      /^build\s+running\s+#43\s+app@3f2a1c0d9e glibc@2\.39-1\s+2m ago\s+last finished: #42 failed$/,
    );
    expect(lines[2]).toMatch(/^lint\s+passed\s+#9\s+app@\S+ glibc@2\.39-1\s+1m ago$/);
  });

  it('builds: drops the REASON column when no build has one', () => {
    const lines = formatBuildsTable([makeBuild()], T0 + 60_000, plain);
    expect(lines[0]).toMatch(/^BUILD\s+JOB\s+STATE\s+INPUTS\s+QUEUED\s+DURATION$/);
    expect(lines[1]).toMatch(
      /^ {2}#42\s+build\s+passed\s+app@3f2a1c0d9e glibc@2\.39-1\s+1m ago\s+1m30s$/,
    );
  });
});
