import { describe, expect, it } from 'vitest';
import type { RequestFacts } from '../../src/core/change-request.js';
import type { SchedulerEvent } from '../../src/core/event.js';
import type { Pipeline } from '../../src/core/pipeline.js';
import type { Decision } from '../../src/core/scheduler/index.js';
import { decide } from '../../src/core/scheduler/index.js';
import type { Given } from '../../src/testing/given-state.js';
import { events, givenSnapshot } from '../../src/testing/given-state.js';
import { ModelStore } from '../../src/testing/model-snapshot.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

/**
 * Scenario table for change requests (docs/change-requests.md): state → event → decisions, in
 * the style of decide.table.test.ts. A request is the ref `pr/<n>`; its events carry the target.
 */
interface Row {
  readonly name: string;
  readonly pipeline: Pipeline;
  readonly given?: Given;
  readonly event: SchedulerEvent;
  readonly decisions: readonly string[];
  readonly check?: (ds: readonly Decision[]) => void;
}

const requests = pipeline({
  sources: {
    app: git('main', { changeRequests: { targets: ['main', 'release/*'], checkout: 'head' } }),
  },
  jobs: {
    build: job({ inputs: ['app'] }),
    deploy: job({ inputs: ['app'], cancelRunning: true, steps: ['make deploy'] }),
    release: job({ inputs: ['app'], branches: ['release/*'], steps: ['make release'] }),
    docs: job({ inputs: ['app'], paths: ['docs/**'], steps: ['make docs'] }),
  },
});

const noRequests = pipeline({
  sources: { app: git('main') },
  jobs: { build: job({ inputs: ['app'] }) },
});

const pr = (
  n: number,
  sha: string,
  facts: Partial<RequestFacts> = {},
  changedPaths: readonly string[] | null = null,
) =>
  events.source('app', sha, {
    ref: `pr/${n}`,
    changedPaths,
    request: { number: n, target: 'main', closed: false, ...facts },
  });

const summary = (d: Decision) => [d.kind, d.rule, d.job].filter((x) => x !== null).join(' ');

function find<K extends Decision['kind']>(
  ds: readonly Decision[],
  kind: K,
  job: string,
): Extract<Decision, { kind: K }> {
  const d = ds.find((x): x is Extract<Decision, { kind: K }> => x.kind === kind && x.job === job);
  expect(d, `${kind} for ${job}`).toBeDefined();
  return d!;
}

const rows: Row[] = [
  {
    name: 'a request into a followed target builds its head as the ref pr/<n>',
    pipeline: requests,
    given: { heads: [{ source: 'app', version: 'm1', ref: 'main' }] },
    event: pr(42, 'h1'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built deploy',
      'note filtered-branch release',
      'queue-build built docs',
    ],
    check: (ds) => {
      const q = find(ds, 'queue-build', 'build');
      expect(q.inputs).toEqual([expect.objectContaining({ version: 'h1', ref: 'pr/42' })]);
      expect(q.concurrency.group).toBe('build@pr/42');
      expect(find(ds, 'note', 'release').detail).toBe(
        'target branch of pr/42 "main" does not match release\'s branches (release/*)',
      );
    },
  },
  {
    name: "a job's branches match the request's target branch, not pr/<n>",
    pipeline: requests,
    event: pr(7, 'r1', { target: 'release/2' }),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built deploy',
      'queue-build built release',
      'queue-build built docs',
    ],
  },
  {
    name: 'a request into a target the source does not list is filtered',
    pipeline: requests,
    event: pr(9, 'x1', { target: 'experimental' }),
    decisions: ['note filtered-branch'],
    check: ([d]) =>
      expect(d?.detail).toBe(
        'change request pr/9 targets "experimental", not one of app\'s change_requests targets (main, release/*)',
      ),
  },
  {
    name: 'without change_requests a request event builds nothing',
    pipeline: noRequests,
    event: pr(1, 'x1'),
    decisions: ['note filtered-branch'],
    check: ([d]) =>
      expect(d?.detail).toBe('app does not follow change requests (change_requests is off)'),
  },
  {
    name: 'a new push to a request supersedes only its own queued build',
    pipeline: requests,
    given: {
      heads: [
        { source: 'app', version: 'a1', ref: 'pr/1' },
        { source: 'app', version: 'b1', ref: 'pr/2' },
      ],
      builds: [
        { job: 'build', state: 'queued', inputs: { app: 'a1' }, ref: 'pr/1' },
        { job: 'build', state: 'queued', inputs: { app: 'b1' }, ref: 'pr/2' },
        { job: 'build', state: 'queued', inputs: { app: 'm1' }, ref: 'main' },
      ],
    },
    event: pr(1, 'a2'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built deploy',
      'note filtered-branch release',
      'queue-build built docs',
    ],
    check: (ds) => expect(find(ds, 'queue-build', 'build').supersedes).toEqual([1]),
  },
  {
    name: 'paths filters apply to a request as to a push',
    pipeline: requests,
    event: pr(3, 'p1', {}, ['src/a.ts']),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built deploy',
      'note filtered-branch release',
      'record-skip filtered-paths docs',
    ],
  },
  {
    name: 'a push to main never builds a request head as "the newest version"',
    pipeline: requests,
    given: {
      heads: [
        { source: 'app', version: 'm1', ref: 'main' },
        { source: 'app', version: 'h1', ref: 'pr/42' },
      ],
    },
    event: events.trigger('build'),
    decisions: ['queue-build built build'],
    check: (ds) =>
      expect(find(ds, 'queue-build', 'build').inputs).toEqual([
        expect.objectContaining({ version: 'm1', ref: 'main' }),
      ]),
  },
  {
    name: 'a reopened request builds its known head again when its build was cancelled',
    pipeline: requests,
    given: {
      heads: [{ source: 'app', version: 'h1', ref: 'pr/42' }],
      builds: [{ job: 'build', state: 'cancelled', inputs: { app: 'h1' }, ref: 'pr/42' }],
    },
    event: pr(42, 'h1', { reopened: true }),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built deploy',
      'note filtered-branch release',
      'queue-build built docs',
    ],
  },
  {
    name: 'a repeated open event for the known head is a duplicate',
    pipeline: requests,
    given: { heads: [{ source: 'app', version: 'h1', ref: 'pr/42' }] },
    event: pr(42, 'h1'),
    decisions: ['record-duplicate duplicate'],
  },
  {
    name: 'a closed request cancels its queued builds, and running ones with cancel_running',
    pipeline: requests,
    given: {
      heads: [{ source: 'app', version: 'h1', ref: 'pr/42' }],
      builds: [
        { job: 'build', state: 'running', inputs: { app: 'h0' }, ref: 'pr/42' },
        { job: 'build', state: 'queued', inputs: { app: 'h1' }, ref: 'pr/42' },
        { job: 'deploy', state: 'running', inputs: { app: 'h1' }, ref: 'pr/42' },
        { job: 'build', state: 'queued', inputs: { app: 'o1' }, ref: 'pr/43' },
      ],
    },
    event: pr(42, 'h1', { closed: true }),
    decisions: [
      'cancel-builds request-closed build',
      'cancel-builds request-closed deploy',
      'cancel-builds request-closed release',
      'cancel-builds request-closed docs',
    ],
    check: (ds) => {
      const b = find(ds, 'cancel-builds', 'build');
      expect([b.queued, b.running]).toEqual([[2], []]);
      expect(b.detail).toBe(
        'change request pr/42 closed: cancels #2 (1 running build left to finish: cancel_running is off)',
      );
      const d = find(ds, 'cancel-builds', 'deploy');
      expect([d.queued, d.running]).toEqual([[], [3]]);
      expect(find(ds, 'cancel-builds', 'docs').detail).toBe(
        'change request pr/42 closed: nothing of docs to cancel',
      );
    },
  },
];

describe('decide: change requests', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const ds = decide(givenSnapshot(row.pipeline, row.given), row.event, 0);
    expect(ds.map(summary)).toEqual(row.decisions);
    for (const d of ds) expect(d.detail.length, `detail of ${summary(d)}`).toBeGreaterThan(0);
    row.check?.(ds);
  });

  it('open → push → close: the closed request leaves nothing queued, other requests untouched', () => {
    const m = new ModelStore(requests);
    m.step(pr(1, 'a1'), 0);
    m.step(pr(2, 'b1'), 0);
    m.step(pr(1, 'a2'), 0);
    m.step(pr(1, 'a2', { closed: true }), 0);
    const states = m.builds
      .filter((b) => b.job === 'build')
      .map((b) => `${b.inputs[0]?.ref}:${b.inputs[0]?.version}:${b.state}`);
    expect(states).toEqual(['pr/1:a1:superseded', 'pr/2:b1:queued', 'pr/1:a2:cancelled']);
  });
});
