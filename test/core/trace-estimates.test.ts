import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../src/testing/build-fixture.js';
import type { Build } from '../../src/core/build.js';
import {
  assembleTrace,
  expectedDownstream,
  queueEstimates,
  type TraceGraph,
} from '../../src/core/trace.js';

const b = buildFixture;

const typical: Record<string, number> = { build: 100, test: 50, deploy: 10 };
const durations = (job: string) => typical[job] ?? null;

describe('queueEstimates: queue position and slots', () => {
  const rows: Array<{
    name: string;
    active: Build[];
    slots: number;
    want: Record<number, number | null>;
  }> = [
    {
      name: 'a queued build with a free slot starts now',
      active: [b(1, 'build', 'queued')],
      slots: 1,
      want: { 1: 1000 + 100 },
    },
    {
      name: 'one slot: a queued build waits for the running one',
      active: [b(1, 'build', 'running', 980), b(2, 'test', 'queued')],
      slots: 1,
      want: { 1: 1080, 2: 1080 + 50 },
    },
    {
      name: 'two slots: the second queued build takes the idle slot',
      active: [b(1, 'build', 'running', 980), b(2, 'test', 'queued'), b(3, 'build', 'queued')],
      slots: 2,
      want: { 1: 1080, 2: 1050, 3: 1050 + 100 },
    },
    {
      name: 'queue position counts: the third waits for the first two (one slot)',
      active: [b(3, 'test', 'queued'), b(2, 'build', 'queued'), b(4, 'deploy', 'queued')],
      slots: 1,
      want: { 2: 1100, 3: 1150, 4: 1160 },
    },
    {
      name: 'an overdue running build frees its slot no earlier than now',
      active: [b(1, 'build', 'running', 0), b(2, 'test', 'queued')],
      slots: 1,
      want: { 1: 100, 2: 1050 },
    },
    {
      name: 'no history: no estimate for that build; builds behind it count it as instant',
      active: [b(1, 'lint', 'queued'), b(2, 'test', 'queued')],
      slots: 1,
      want: { 1: null, 2: 1050 },
    },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const got = queueEstimates(r.active, r.slots, durations, 1000);
      expect(Object.fromEntries(got)).toEqual(
        Object.fromEntries(Object.entries(r.want).map(([k, v]) => [k, v])),
      );
    });
  }
});

describe('expectedDownstream: jobs not queued yet', () => {
  const consumers = (job: string) =>
    job === 'build'
      ? [{ job: 'test', via: 'build.dist' }]
      : job === 'test'
        ? [
            { job: 'deploy', via: 'test.report' },
            { job: 'build', via: 'test.report' }, // a cycle in corrupt data: ignored
          ]
        : [];
  it('chains estimates through each consumer, each job once', () => {
    expect(expectedDownstream('build', 1100, consumers, durations)).toEqual([
      {
        job: 'test',
        via: 'build.dist',
        estimatedFinishAt: 1150,
        expected: [{ job: 'deploy', via: 'test.report', estimatedFinishAt: 1160, expected: [] }],
      },
    ]);
  });
  it('without an estimate upstream, downstream has none either', () => {
    expect(expectedDownstream('build', null, consumers, durations)[0]?.estimatedFinishAt).toBe(
      null,
    );
  });
});

describe('assembleTrace: identical outputs', () => {
  it('marks builds reached through an output first produced by another build as reused, and stops there', () => {
    const graph: TraceGraph = {
      usersOf: new Map([
        ['app@c2', [b(3, 'build', 'passed')]],
        ['build.dist@d1', [b(2, 'test', 'passed')]],
        ['test.report@r1', [b(4, 'deploy', 'passed')]],
      ]),
      producedBy: new Map([
        [3, [{ source: 'build.dist', version: 'd1' }]],
        [2, [{ source: 'test.report', version: 'r1' }]],
      ]),
      firstProducerOf: new Map([
        ['build.dist@d1', 1],
        ['test.report@r1', 2],
      ]),
    };
    const [build] = assembleTrace(graph, { source: 'app', version: 'c2' }, () => null);
    expect(build).toMatchObject({ build: { id: 3 }, reused: null });
    expect(build!.children).toHaveLength(1);
    expect(build!.children[0]).toMatchObject({
      build: { id: 2 },
      reused: { identicalOutputOf: 1 },
      children: [],
    });
  });
});
