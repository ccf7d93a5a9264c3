import { describe, expect, it } from 'vitest';
import type { BuildState } from '../../src/core/build.js';
import {
  KEEP_EVERYTHING,
  historyHorizon,
  planRetention,
  retentionOf,
  type BuildFact,
  type KeepReason,
  type RetentionPolicy,
} from '../../src/core/retention.js';
import { job, pipeline } from '../../src/testing/pipeline-builder.js';

const DAY = 86_400_000;
const NOW = 100 * DAY;

/** `p` = passed, `f` = failed, `e` = error, `s` = skipped, `x` = superseded, `q` = queued, `r` = running. */
const STATE: Record<string, BuildState> = {
  p: 'passed',
  f: 'failed',
  e: 'error',
  s: 'skipped',
  x: 'superseded',
  q: 'queued',
  r: 'running',
};

/** Builds of job `a` from a string, oldest first: `"ppff"` → ids 1..4, one day apart, the last `NOW`. */
function history(states: string, job = 'a', firstId = 1): BuildFact[] {
  return [...states].map((c, i) => ({
    id: firstId + i,
    job,
    state: STATE[c] ?? 'passed',
    at: NOW - (states.length - 1 - i) * DAY,
  }));
}

const policy = (p: Partial<RetentionPolicy>): RetentionPolicy => ({ ...KEEP_EVERYTHING, ...p });

interface Row {
  readonly name: string;
  readonly builds: string;
  readonly policy: Partial<RetentionPolicy>;
  readonly headProducers?: readonly number[];
  readonly inputProducers?: ReadonlyArray<readonly [number, readonly number[]]>;
  /** Ids kept, with the reason. */
  readonly kept: Readonly<Record<number, KeepReason>>;
}

// One row per rule: state (a job's builds, oldest first) → policy → what survives and why.
const rows: Row[] = [
  {
    name: 'no limits: everything is kept',
    builds: 'pfpf',
    policy: {},
    kept: { 1: 'window', 2: 'window', 3: 'newest-passed', 4: 'newest' },
  },
  {
    name: 'count: the newest N builds, every state counts',
    builds: 'ppsfx',
    policy: { builds: 3 },
    kept: { 2: 'newest-passed', 3: 'window', 4: 'window', 5: 'newest' },
  },
  {
    name: 'count: the newest passed build survives outside the window',
    builds: 'pfffff',
    policy: { builds: 2 },
    kept: { 1: 'newest-passed', 5: 'window', 6: 'newest' },
  },
  {
    name: 'count: only the newest passed one, not every passed one',
    builds: 'ppffff',
    policy: { builds: 1 },
    kept: { 2: 'newest-passed', 6: 'newest' },
  },
  {
    name: 'age: builds older than the age go (one day apart, age 2.5 days)',
    builds: 'pfffff',
    policy: { ageMs: 2.5 * DAY },
    kept: { 1: 'newest-passed', 4: 'window', 5: 'window', 6: 'newest' },
  },
  {
    name: 'count and age: both limits apply',
    builds: 'ffffffp',
    policy: { builds: 5, ageMs: 1.5 * DAY },
    kept: { 6: 'window', 7: 'newest' },
  },
  {
    name: 'active builds are kept whatever their rank or age',
    builds: 'qrffp',
    policy: { builds: 1, ageMs: 1 },
    kept: { 1: 'active', 2: 'active', 5: 'newest' },
  },
  {
    name: 'the newest build that was not skipped is kept too (the last definition hash)',
    builds: 'ffss',
    policy: { builds: 1 },
    kept: { 2: 'newest', 4: 'newest' },
  },
  {
    name: 'the producer of a current job-output head is kept',
    builds: 'ppfff',
    policy: { builds: 1 },
    headProducers: [1],
    kept: { 1: 'head-producer', 2: 'newest-passed', 5: 'newest' },
  },
  {
    name: 'producers of a kept build’s job-output inputs are kept, transitively',
    builds: 'pppppp',
    policy: { builds: 1 },
    inputProducers: [
      [6, [3]],
      [3, [1]],
      [4, [2]],
    ],
    kept: { 6: 'newest', 3: 'input-producer', 1: 'input-producer' },
  },
  {
    name: 'a producer named by a head but already deleted is not reported as kept',
    builds: 'ff',
    policy: { builds: 1 },
    headProducers: [99],
    kept: { 2: 'newest' },
  },
];

describe('planRetention: which builds are kept', () => {
  it.each(rows)('$name', (row) => {
    const plan = planRetention(
      {
        builds: history(row.builds),
        headProducers: row.headProducers ?? [],
        inputProducers: new Map(row.inputProducers ?? []),
      },
      () => policy(row.policy),
      NOW,
    );
    expect(Object.fromEntries(plan.kept)).toEqual(row.kept);
    const all = history(row.builds).map((b) => b.id);
    expect(plan.delete).toEqual(all.filter((id) => !(id in row.kept)));
  });

  it('keeps a job’s newest build even when every build is older than the age', () => {
    const plan = planRetention(
      {
        builds: history('ff').map((b) => ({ ...b, at: b.at - 10 * DAY })),
        headProducers: [],
        inputProducers: new Map(),
      },
      () => policy({ ageMs: DAY }),
      NOW,
    );
    expect(Object.fromEntries(plan.kept)).toEqual({ 2: 'newest' });
    expect(plan.delete).toEqual([1]);
    // Nothing is inside the window: the job's history horizon is the age limit.
    expect(plan.horizon.get('a')).toBe(NOW - DAY);
  });

  it('applies each job its own policy and keeps jobs apart', () => {
    const plan = planRetention(
      {
        builds: [...history('fff', 'a', 1), ...history('fff', 'b', 4)],
        headProducers: [],
        inputProducers: new Map(),
      },
      (j) => policy({ builds: j === 'a' ? 1 : 2 }),
      NOW,
    );
    expect(plan.delete).toEqual([1, 2, 4]);
  });

  it('the history horizon of a job is its oldest build inside the window', () => {
    const plan = planRetention(
      { builds: history('pfff'), headProducers: [], inputProducers: new Map() },
      () => policy({ builds: 2 }),
      NOW,
    );
    // Builds 3 and 4 are the window (at NOW - 1 day and NOW); the newest passed (1) is kept
    // but does not hold history back.
    expect(plan.horizon.get('a')).toBe(NOW - DAY);
    const unlimited = planRetention(
      { builds: history('pf'), headProducers: [], inputProducers: new Map() },
      () => KEEP_EVERYTHING,
      NOW,
    );
    expect(unlimited.horizon.get('a')).toBe(-Infinity);
  });

  it('is deterministic: input order does not matter', () => {
    const facts = history('pfsxpfp');
    const a = planRetention(
      { builds: facts, headProducers: [], inputProducers: new Map() },
      () => policy({ builds: 2 }),
      NOW,
    );
    const b = planRetention(
      { builds: [...facts].reverse(), headProducers: [], inputProducers: new Map() },
      () => policy({ builds: 2 }),
      NOW,
    );
    expect(b.delete).toEqual(a.delete);
  });
});

describe('historyHorizon', () => {
  const plan = {
    horizon: new Map([
      ['a', 50],
      ['b', 80],
      ['c', -Infinity],
    ]),
  };
  const consumers = new Map([
    ['app', ['a', 'b']],
    ['lib', ['b']],
  ]);
  const never = () => 70;
  it.each([
    { owner: { job: 'b', source: null }, expected: 80, why: 'a job row: its job' },
    { owner: { job: null, source: 'app' }, expected: 50, why: 'a source row: oldest consumer' },
    { owner: { job: null, source: 'lib' }, expected: 80, why: 'one consumer' },
    { owner: { job: null, source: null }, expected: -Infinity, why: 'neither: oldest of all' },
    { owner: { job: 'z', source: null }, expected: 70, why: 'a job never built' },
  ])('$why', ({ owner, expected }) => {
    expect(historyHorizon(plan, owner, consumers, never)).toBe(expected);
  });
});

describe('retentionOf', () => {
  it('a job’s own policy, else the pipeline’s, else keep everything', () => {
    const own = policy({ builds: 3 });
    const p = pipeline({
      retention: policy({ builds: 50 }),
      jobs: { a: job({ retention: own }), b: job() },
    });
    expect(retentionOf(p, 'a')).toBe(own);
    expect(retentionOf(p, 'b').builds).toBe(50);
    expect(retentionOf(p, 'gone').builds).toBe(50);
    expect(retentionOf(pipeline({ jobs: { a: job() } }), 'a')).toEqual(KEEP_EVERYTHING);
  });
});
