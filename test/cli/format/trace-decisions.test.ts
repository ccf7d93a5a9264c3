import { describe, expect, it } from 'vitest';
import type { TraceResponse } from '../../../src/api/types.js';
import { createColours } from '../../../src/cli/format/colour.js';
import {
  decisionBuild,
  explainNoBuild,
  formatDecisions,
} from '../../../src/cli/format/decisions.js';
import { formatLogLine } from '../../../src/cli/format/log.js';
import { flattenTrace, formatTraceTree, traceFinished } from '../../../src/cli/format/trace.js';
import { DIGEST, SHA, T0, makeBuild, makeDecision } from '../helpers/builds.js';

const plain = createColours(false);
const at = (h: number, m: number, s = 0): number => new Date(2025, 2, 1, h, m, s).getTime();

const trace: TraceResponse = {
  source: 'app',
  version: SHA,
  nodes: [
    {
      build: makeBuild({ id: 1, startedAt: at(14, 0, 1), finishedAt: at(14, 1, 31) }),
      via: { source: 'app', version: SHA },
      estimatedFinishAt: null,
      reused: null,
      expected: [],
      children: [
        {
          build: makeBuild({
            id: 3,
            job: 'integration',
            state: 'running',
            startedAt: at(14, 1, 35),
            finishedAt: null,
          }),
          via: { source: 'build.dist', version: DIGEST },
          estimatedFinishAt: at(14, 5),
          reused: null,
          expected: [],
          children: [
            {
              build: makeBuild({
                id: 4,
                job: 'deploy',
                state: 'queued',
                startedAt: null,
                finishedAt: null,
              }),
              via: { source: 'integration.report', version: '1.0' },
              estimatedFinishAt: null,
              reused: null,
              expected: [],
              children: [],
            },
          ],
        },
        {
          build: makeBuild({
            id: 5,
            job: 'docs',
            state: 'skipped',
            startedAt: null,
            finishedAt: at(14, 1, 32),
          }),
          via: { source: 'build.dist', version: DIGEST },
          estimatedFinishAt: null,
          reused: null,
          expected: [],
          children: [],
        },
      ],
    },
    {
      build: makeBuild({ id: 2, job: 'lint', startedAt: at(14, 0, 1), finishedAt: at(14, 0, 20) }),
      via: { source: 'app', version: SHA },
      estimatedFinishAt: null,
      reused: null,
      expected: [],
      children: [],
    },
  ],
};

describe('formatTraceTree', () => {
  it('draws the tree with ├─ └─ │ and eta for unfinished builds', () => {
    expect(formatTraceTree(trace, plain)).toEqual([
      'app@3f2a1c0d9e',
      '├─ build #1 passed 14:00:01→14:01:31',
      '│  ├─ integration #3 running 14:01:35→… (eta ~14:05:00) via build.dist@9b1e77a0c2',
      '│  │  └─ deploy #4 queued via integration.report@1.0',
      '│  └─ docs #5 skipped →14:01:32 via build.dist@9b1e77a0c2',
      '└─ lint #2 passed 14:00:01→14:00:20',
    ]);
  });

  it('marks reused builds and lists jobs not queued yet with their eta', () => {
    const lines = formatTraceTree(
      {
        source: 'app',
        version: SHA,
        nodes: [
          {
            build: makeBuild({ id: 7, state: 'running', startedAt: at(14, 0), finishedAt: null }),
            via: { source: 'app', version: SHA },
            estimatedFinishAt: at(14, 2),
            reused: null,
            expected: [
              {
                job: 'integration',
                via: 'build.dist',
                estimatedFinishAt: at(14, 5),
                expected: [
                  {
                    job: 'deploy',
                    via: 'integration.report',
                    estimatedFinishAt: null,
                    expected: [],
                  },
                ],
              },
            ],
            children: [],
          },
          {
            build: makeBuild({ id: 6, startedAt: at(13, 0), finishedAt: at(13, 1) }),
            via: { source: 'app', version: SHA },
            estimatedFinishAt: null,
            reused: null,
            expected: [],
            children: [
              {
                build: makeBuild({ id: 2, job: 'integration', finishedAt: at(12, 0) }),
                via: { source: 'build.dist', version: DIGEST },
                estimatedFinishAt: null,
                reused: { identicalOutputOf: 1 },
                expected: [],
                children: [],
              },
            ],
          },
        ],
      },
      plain,
    );
    expect(lines).toEqual([
      'app@3f2a1c0d9e',
      '├─ build #7 running 14:00:00→… (eta ~14:02:00)',
      '│  └─ integration not queued yet (eta ~14:05:00) via build.dist',
      '│     └─ deploy not queued yet (no estimate yet) via integration.report',
      '└─ build #6 passed 13:00:00→13:01:00',
      '   └─ integration #2 passed (identical output of #1, not rebuilt) via build.dist@9b1e77a0c2',
    ]);
  });

  it('says so when no build used the version', () => {
    expect(formatTraceTree({ source: 'app', version: 'v1', nodes: [] }, plain)).toEqual([
      'app@v1',
      '(no builds used this version)',
    ]);
  });

  it('flattens depth first and knows when everything is finished', () => {
    expect(flattenTrace(trace.nodes).map((n) => n.build.id)).toEqual([1, 3, 4, 5, 2]);
    expect(traceFinished(trace)).toBe(false);
    expect(traceFinished({ ...trace, nodes: trace.nodes.slice(1) })).toBe(true);
  });
});

describe('decisions', () => {
  it('formatDecisions renders the why table', () => {
    const lines = formatDecisions([makeDecision({ at: at(9, 3, 7) })], plain);
    expect(lines[0]).toMatch(/^TIME\s+RULE\s+INPUT\s+BUILD\s+DETAIL$/);
    expect(lines[1]).toBe(
      '2025-03-01 09:03:07  new-version  app@3f2a1c0d9e  #42    app@3f2a1c0 is a new head of main',
    );
  });

  it('explainNoBuild adds the --force hint when the inputs were built already', () => {
    const built = makeDecision({
      rule: 'same-fingerprint',
      detail: 'already built these inputs as build #42 (passed)',
    });
    expect(explainNoBuild('build', [built], false)).toEqual([
      'build: already built these inputs as build #42 (passed); use --force to rebuild',
    ]);
    expect(explainNoBuild('build', [built], true)).toEqual([
      'build: already built these inputs as build #42 (passed)',
    ]);
    expect(explainNoBuild('build', [], false)).toEqual(['build: nothing was queued']);
    // A detail that already names the job is not prefixed twice.
    expect(explainNoBuild('build', [{ ...built, detail: 'build already built it' }], true)).toEqual(
      ['build already built it'],
    );
  });

  it('decisionBuild takes the build id, else the build the detail names', () => {
    expect(decisionBuild(makeDecision({ buildId: 7 }))).toBe(7);
    expect(
      decisionBuild(makeDecision({ buildId: null, detail: 'already built as build #12 (passed)' })),
    ).toBe(12);
    expect(decisionBuild(makeDecision({ buildId: null, detail: 'filtered' }))).toBeNull();
  });
});

describe('formatLogLine', () => {
  it('dims system lines only on colour output and prefixes times on request', () => {
    const colour = createColours(true);
    const line = { ts: T0, stream: 'system' as const, text: '▶ step 1' };
    expect(formatLogLine(line, { timestamps: false, colours: plain })).toBe('▶ step 1');
    expect(formatLogLine(line, { timestamps: false, colours: colour })).toBe(
      '\x1b[2m▶ step 1\x1b[22m',
    );
    expect(
      formatLogLine({ ...line, stream: 'stderr' }, { timestamps: false, colours: colour }),
    ).toBe('▶ step 1');
    expect(
      formatLogLine(
        { ...line, stream: 'stdout', ts: at(8, 9, 10) },
        { timestamps: true, colours: plain },
      ),
    ).toBe('08:09:10 ▶ step 1');
  });
});
