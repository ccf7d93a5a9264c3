import { describe, expect, it } from 'vitest';
import type { SchedulerEvent } from '../../src/core/event.js';
import type { Pipeline } from '../../src/core/pipeline.js';
import type { Decision } from '../../src/core/scheduler/index.js';
import { decide } from '../../src/core/scheduler/index.js';
import type { Given } from '../../src/testing/given-state.js';
import { events, fingerprintOf, givenSnapshot } from '../../src/testing/given-state.js';
import { ModelStore } from '../../src/testing/model-snapshot.js';
import { amqp, git, http, job, pipeline } from '../../src/testing/pipeline-builder.js';

/**
 * Scenario tables for the scheduler (CONVENTIONS §12): state → event → decisions, one row per
 * case. `decisions` lists each decision as `kind rule [job]`, in order; `check` looks closer.
 */
interface Row {
  readonly name: string;
  readonly pipeline: Pipeline;
  readonly given?: Given;
  readonly event: SchedulerEvent;
  readonly now?: number;
  readonly decisions: readonly string[];
  readonly check?: (ds: readonly Decision[]) => void;
}

const NOW = 1_000_000;

// ---- pipelines -------------------------------------------------------------------------------

/** One git source, one consumer. */
const single = pipeline({
  sources: { app: git('main') },
  jobs: { build: job({ inputs: ['app'] }) },
});

/** One source, three consumers, declared in this order. */
const fanOut = pipeline({
  sources: { app: git('main') },
  jobs: {
    build: job({ inputs: ['app'], steps: ['make'] }),
    lint: job({ inputs: ['app'], steps: ['make lint'] }),
    test: job({ inputs: ['app'], steps: ['make test'] }),
  },
});

/** A source following main and release branches; a job only for releases. */
/** A job's `branches` apply to every git input it has; `lib` is not git, so unaffected. */
const branches = pipeline({
  sources: { app: git(['main', 'release/*']), lib: http() },
  jobs: {
    build: job({ inputs: ['app'], steps: ['make'] }),
    release: job({ inputs: ['app', 'lib'], branches: ['release/*'], steps: ['make release'] }),
  },
});

const paths = pipeline({
  sources: { app: git('main') },
  jobs: {
    docs: job({ inputs: ['app'], paths: ['docs/**'], steps: ['make docs'] }),
    code: job({ inputs: ['app'], pathsIgnore: ['**/*.md', 'docs/**'], steps: ['make'] }),
  },
});

const quiet = pipeline({
  sources: { app: git('main'), glibc: amqp({ quietPeriodMs: 1000 }) },
  jobs: {
    build: job({ inputs: ['app'], quietPeriodMs: 5000 }),
    rpm: job({ inputs: ['glibc'], steps: ['rpmbuild'] }),
  },
});

/** build → integration through the `build.dist` output. */
const chain = pipeline({
  sources: { app: git('main'), tests: git('main') },
  jobs: {
    build: job({ inputs: ['app'], outputs: { dist: 'dist/*.tgz' } }),
    integration: job({ inputs: ['build.dist', 'tests'], steps: ['./integration.sh'] }),
  },
});

const knobs = pipeline({
  sources: { app: git('main') },
  jobs: {
    build: job({ inputs: ['app'] }),
    keep: job({ inputs: ['app'], supersede: false, steps: ['make keep'] }),
    deploy: job({ inputs: ['app'], cancelRunning: true, steps: ['make deploy'] }),
  },
});

const noInputs = pipeline({ jobs: { hello: job({ steps: ['echo hello'] }) } });

/** Two jobs with the same definition: different jobs, so different builds. */
const twins = pipeline({
  sources: { app: git('main') },
  jobs: {
    staging: job({ inputs: ['app'], steps: ['make'] }),
    production: job({ inputs: ['app'], steps: ['make'] }),
  },
});

const mixed = pipeline({
  sources: { app: git('main'), feed: http() },
  jobs: { build: job({ inputs: ['app', 'feed'] }) },
});

// ---- helpers ---------------------------------------------------------------------------------

const push = (
  source: string,
  version: string,
  ref: string | null = 'main',
  changedPaths: readonly string[] | null = null,
) => events.source(source, version, { ref, changedPaths });
const output = (source: string, version: string, producedBy: number) =>
  events.source(source, version, { producedBy });

function only<K extends Decision['kind']>(
  ds: readonly Decision[],
  kind: K,
): Extract<Decision, { kind: K }> {
  const found = ds.filter((d): d is Extract<Decision, { kind: K }> => d.kind === kind);
  expect(found).toHaveLength(1);
  return found[0]!;
}

function queued(
  ds: readonly Decision[],
  jobName: string,
): Extract<Decision, { kind: 'queue-build' }> {
  const d = ds.find(
    (x): x is Extract<Decision, { kind: 'queue-build' }> =>
      x.kind === 'queue-build' && x.job === jobName,
  );
  expect(d, `queue-build for ${jobName}`).toBeDefined();
  return d!;
}

const inputsOf = (d: { inputs: readonly { source: string; version: string }[] }) =>
  Object.fromEntries(d.inputs.map((i) => [i.source, i.version]));

const summary = (d: Decision) => [d.kind, d.rule, d.job].filter((x) => x !== null).join(' ');

// ---- the table -------------------------------------------------------------------------------

const rows: Row[] = [
  // duplicates
  {
    name: 'a version equal to the head is a duplicate',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a1' }],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'a1' } }],
    },
    event: push('app', 'a1'),
    decisions: ['record-duplicate duplicate'],
  },
  {
    name: 'a poll finding the head again is a duplicate too',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'a1' }] },
    event: events.source('app', 'a1', { ref: 'main', origin: 'poll' }),
    decisions: ['record-duplicate duplicate'],
  },
  {
    name: 'the head of another branch is a new version for this branch',
    pipeline: branches,
    given: { heads: [{ source: 'app', version: 'r1', ref: 'release/1' }] },
    event: push('app', 'r1', 'main'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'note filtered-branch release',
    ],
  },

  // ordering: the shell asked the mirror how the version relates to the head (`ancestry`)
  {
    name: 'a late delivery of an ancestor of the head is recorded; the head stays, nothing builds',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'h2' }],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'h2' } }],
    },
    event: events.source('app', 'g1', {
      ref: 'main',
      ancestry: { relation: 'ancestor', head: 'h2' },
    }),
    decisions: ['record-duplicate ancestor'],
    check: (ds) =>
      expect(only(ds, 'record-duplicate').detail).toBe(
        'app@g1 is an ancestor of the head app@h2 of main (webhook event arrived late): recorded, the head stays',
      ),
  },
  {
    name: 'a poll that raced a push and found the older commit is an ancestor too',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'h2' }] },
    event: events.source('app', 'g1', {
      ref: 'main',
      origin: 'poll',
      ancestry: { relation: 'ancestor', head: 'h2' },
    }),
    decisions: ['record-duplicate ancestor'],
  },
  {
    name: 'an answer about another head than the current one is not used (the head moved since)',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'h3' }] },
    event: events.source('app', 'g1', {
      ref: 'main',
      ancestry: { relation: 'ancestor', head: 'h2' },
    }),
    decisions: ['advance-head new-version', 'queue-build built build'],
  },
  {
    name: 'a force push (not a descendant) still moves the head and builds, and says so',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'h2' }] },
    event: events.source('app', 'x9', {
      ref: 'main',
      ancestry: { relation: 'unrelated', head: 'h2' },
    }),
    decisions: ['advance-head new-version', 'queue-build built build'],
    check: (ds) =>
      expect(only(ds, 'advance-head').detail).toBe(
        'app@x9 is the new head of main (webhook; force push: not a descendant of app@h2)',
      ),
  },
  {
    name: 'a fast-forward moves the head as before',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'h2' }] },
    event: events.source('app', 'i3', {
      ref: 'main',
      ancestry: { relation: 'descendant', head: 'h2' },
    }),
    decisions: ['advance-head new-version', 'queue-build built build'],
    check: (ds) =>
      expect(only(ds, 'advance-head').detail).toBe('app@i3 is the new head of main (webhook)'),
  },
  {
    name: 'when the mirror cannot tell, the version is taken as new and the reason shown',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'h2' }] },
    event: events.source('app', 'g1', {
      ref: 'main',
      ancestry: { relation: 'unknown', head: 'h2', reason: 'timed out after 10 s' },
    }),
    decisions: ['advance-head new-version', 'queue-build built build'],
    check: (ds) =>
      expect(only(ds, 'advance-head').detail).toBe(
        'app@g1 is the new head of main (webhook; ancestry unknown: timed out after 10 s)',
      ),
  },
  {
    name: 'a poll finding a version no event announced says it is a missed event',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'h2' }] },
    event: events.source('app', 'i3', { ref: 'main', origin: 'poll' }),
    decisions: ['advance-head new-version', 'queue-build built build'],
    check: (ds) =>
      expect(only(ds, 'advance-head').detail).toBe(
        'app@i3 is the new head of main (poll; missed event: no event announced it)',
      ),
  },
  {
    name: 'ancestry is a git fact: it is ignored for other sources',
    pipeline: mixed,
    given: {
      heads: [
        { source: 'app', version: 'a1' },
        { source: 'feed', version: 'f2', ref: null },
      ],
    },
    event: events.source('feed', 'f1', { ancestry: { relation: 'ancestor', head: 'f2' } }),
    decisions: ['advance-head new-version', 'queue-build built build'],
  },

  // new versions
  {
    name: 'a new version queues its single consumer',
    pipeline: single,
    event: push('app', 'a1'),
    decisions: ['advance-head new-version', 'queue-build built build'],
    check: (ds) => {
      const q = only(ds, 'queue-build');
      expect(inputsOf(q)).toEqual({ app: 'a1' });
      expect(q.fingerprint).toBe(fingerprintOf(single, 'build', { app: 'a1' }));
      expect(q.cause).toEqual({ kind: 'version', source: 'app', version: 'a1', eventId: 1 });
      expect(q).toMatchObject({ forced: false, supersedes: [], cancels: [] });
      expect(only(ds, 'advance-head')).toMatchObject({
        source: 'app',
        version: 'a1',
        ref: 'main',
        origin: 'webhook',
      });
    },
  },
  {
    name: 'a new version fans out to every consumer, in declaration order',
    pipeline: fanOut,
    given: { heads: [{ source: 'app', version: 'a1' }] },
    event: push('app', 'a2'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built lint',
      'queue-build built test',
    ],
  },
  {
    name: 'jobs with the same definition are still different jobs',
    pipeline: twins,
    event: push('app', 'a1'),
    decisions: [
      'advance-head new-version',
      'queue-build built staging',
      'queue-build built production',
    ],
    check: (ds) =>
      expect(queued(ds, 'staging').fingerprint).not.toBe(queued(ds, 'production').fingerprint),
  },
  {
    name: 'the input set takes the newest head of every input',
    pipeline: mixed,
    given: {
      heads: [
        { source: 'feed', version: 'etag-1' },
        { source: 'app', version: 'a1' },
        { source: 'feed', version: 'etag-2' },
      ],
    },
    event: push('app', 'a2'),
    decisions: ['advance-head new-version', 'queue-build built build'],
    check: (ds) => expect(inputsOf(queued(ds, 'build'))).toEqual({ app: 'a2', feed: 'etag-2' }),
  },

  // branch filters
  {
    name: 'a branch the source does not follow is filtered before anything else',
    pipeline: single,
    event: push('app', 'f1', 'feature/x'),
    decisions: ['note filtered-branch'],
  },
  {
    name: "a job's branch filter leaves other jobs alone",
    pipeline: branches,
    given: { heads: [{ source: 'lib', version: 'l1' }] },
    event: push('app', 'a1', 'main'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'note filtered-branch release',
    ],
  },
  {
    name: 'a release branch builds the release job with that branch',
    pipeline: branches,
    given: {
      heads: [
        { source: 'app', version: 'a1', ref: 'main' },
        { source: 'lib', version: 'l1' },
      ],
    },
    event: push('app', 'r1', 'release/1'),
    decisions: ['advance-head new-version', 'queue-build built build', 'queue-build built release'],
    check: (ds) => {
      expect(inputsOf(queued(ds, 'release'))).toEqual({ app: 'r1', lib: 'l1' });
      expect(queued(ds, 'release').inputs[0]?.ref).toBe('release/1');
    },
  },
  {
    name: 'another input of a branch-filtered job uses the newest matching branch',
    pipeline: branches,
    given: {
      heads: [
        { source: 'app', version: 'r1', ref: 'release/1' },
        { source: 'app', version: 'a9', ref: 'main' },
        { source: 'lib', version: 'l1' },
      ],
    },
    event: events.source('lib', 'l2'),
    decisions: ['advance-head new-version', 'queue-build built release'],
    check: (ds) => expect(inputsOf(queued(ds, 'release'))).toEqual({ app: 'r1', lib: 'l2' }),
  },

  // path filters
  {
    name: 'paths: a change under the filter builds',
    pipeline: paths,
    event: push('app', 'a1', 'main', ['docs/guide.md']),
    decisions: [
      'advance-head new-version',
      'queue-build built docs',
      'record-skip filtered-paths code',
    ],
  },
  {
    name: 'paths: a change elsewhere is skipped (visible, reason "paths")',
    pipeline: paths,
    event: push('app', 'a1', 'main', ['src/main.ts']),
    decisions: [
      'advance-head new-version',
      'record-skip filtered-paths docs',
      'queue-build built code',
    ],
    check: (ds) =>
      expect(only(ds, 'record-skip')).toMatchObject({ reason: 'paths', identicalTo: null }),
  },
  {
    name: 'paths_ignore: a change to ignored files only is skipped',
    pipeline: paths,
    event: push('app', 'a1', 'main', ['README.md', 'docs/x.md']),
    decisions: [
      'advance-head new-version',
      'queue-build built docs',
      'record-skip filtered-paths code',
    ],
  },
  {
    name: 'paths_ignore: one file outside the ignore list is enough',
    pipeline: paths,
    event: push('app', 'a1', 'main', ['README.md', 'src/a.ts']),
    decisions: [
      'advance-head new-version',
      'record-skip filtered-paths docs',
      'queue-build built code',
    ],
  },
  {
    name: 'paths: unknown changed paths (a poll) pass every filter',
    pipeline: paths,
    event: push('app', 'a1', 'main', null),
    decisions: ['advance-head new-version', 'queue-build built docs', 'queue-build built code'],
  },

  // quiet periods
  {
    name: "a job's quiet period defers it",
    pipeline: quiet,
    event: push('app', 'a1'),
    decisions: ['advance-head new-version', 'defer deferred build'],
    check: (ds) => expect(only(ds, 'defer').until).toBe(NOW + 5000),
  },
  {
    name: "a source's quiet period defers its consumers",
    pipeline: quiet,
    event: events.source('glibc', '2.41-1', { origin: 'bus' }),
    decisions: ['advance-head new-version', 'defer deferred rpm'],
    check: (ds) => expect(only(ds, 'defer').until).toBe(NOW + 1000),
  },
  {
    name: 'settle builds once with the newest heads',
    pipeline: quiet,
    given: {
      heads: [
        { source: 'glibc', version: '2.41-1' },
        { source: 'glibc', version: '2.41-7' },
      ],
    },
    event: events.settle('rpm'),
    decisions: ['queue-build settled rpm'],
    check: (ds) => {
      const q = only(ds, 'queue-build');
      expect(inputsOf(q)).toEqual({ glibc: '2.41-7' });
      // The quiet period came from the source: the cause says so.
      expect(q.cause).toEqual({ kind: 'settled', quietPeriodMs: 1000 });
    },
  },
  {
    name: 'settle on inputs already built is a visible skip (rule 7: nothing hangs pending)',
    pipeline: quiet,
    given: {
      heads: [{ source: 'glibc', version: '2.41-1' }],
      builds: [{ job: 'rpm', state: 'passed', inputs: { glibc: '2.41-1' } }],
    },
    event: events.settle('rpm'),
    decisions: ['record-skip same-fingerprint rpm'],
    check: (ds) =>
      expect(only(ds, 'record-skip')).toMatchObject({
        identicalTo: 1,
        reason: 'identical to build #1',
      }),
  },

  // chains and early cutoff
  {
    name: 'a job waits while an input has no version yet',
    pipeline: chain,
    given: { heads: [{ source: 'tests', version: 't1' }] },
    event: push('app', 'a1'),
    decisions: ['advance-head new-version', 'queue-build built build'],
  },
  {
    name: 'a downstream job waits for its upstream output',
    pipeline: chain,
    event: push('tests', 't1'),
    decisions: ['advance-head new-version', 'note waiting-input integration'],
    check: (ds) => expect(ds[1]?.detail).toContain('build.dist'),
  },
  {
    name: 'an upstream output version queues the downstream job',
    pipeline: chain,
    given: {
      heads: [
        { source: 'app', version: 'a1' },
        { source: 'tests', version: 't1' },
      ],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'a1' } }],
    },
    event: output('build.dist', 'sha-d1', 1),
    decisions: ['advance-head new-version', 'queue-build built integration'],
    check: (ds) => {
      expect(only(ds, 'advance-head')).toMatchObject({ origin: 'output', producedBy: 1 });
      expect(inputsOf(queued(ds, 'integration'))).toEqual({ 'build.dist': 'sha-d1', tests: 't1' });
    },
  },
  {
    name: 'identical output of a rebuild is an early cutoff: nothing downstream runs',
    pipeline: chain,
    given: {
      heads: [
        { source: 'build.dist', version: 'sha-d1', producedBy: 1 },
        { source: 'tests', version: 't1' },
      ],
      builds: [
        { job: 'build', state: 'passed', inputs: { app: 'a1' } },
        { job: 'integration', state: 'passed', inputs: { 'build.dist': 'sha-d1', tests: 't1' } },
        { job: 'build', state: 'passed', inputs: { app: 'a2' } },
      ],
    },
    event: output('build.dist', 'sha-d1', 3),
    decisions: ['record-duplicate early-cutoff', 'note early-cutoff integration'],
    check: (ds) => expect(ds[0]?.detail).toMatch(/build #3 is identical to build #1's/),
  },
  {
    name: 'an older build finishing last does not move the output head back (stale output)',
    pipeline: chain,
    given: {
      heads: [
        { source: 'build.dist', version: 'sha-new', producedBy: 3 },
        { source: 'tests', version: 't1' },
      ],
      builds: [
        { job: 'build', state: 'passed', inputs: { app: 'a1' } },
        { job: 'build', state: 'passed', inputs: { app: 'a2' } },
        { job: 'build', state: 'passed', inputs: { app: 'a3' } },
      ],
    },
    event: output('build.dist', 'sha-old', 2),
    decisions: ['record-duplicate stale-output'],
    check: (ds) => expect(ds[0]?.detail).toMatch(/build #2 is older than build #3's/),
  },

  // identical input sets
  {
    name: 'a revert to an older version is skipped as identical to the build that had it',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [
        { job: 'build', state: 'passed', inputs: { app: 'a1' } },
        { job: 'build', state: 'passed', inputs: { app: 'a2' } },
      ],
    },
    event: push('app', 'a1'),
    decisions: ['advance-head new-version', 'record-skip same-fingerprint build'],
    check: (ds) =>
      expect(only(ds, 'record-skip')).toMatchObject({
        identicalTo: 1,
        reason: 'identical to build #1',
      }),
  },
  {
    name: 'a revert while a newer build is queued supersedes that build: the newest inputs are built',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [
        { job: 'build', state: 'passed', inputs: { app: 'a1' } },
        { job: 'build', state: 'queued', inputs: { app: 'a2' } },
      ],
    },
    event: push('app', 'a1'),
    decisions: ['advance-head new-version', 'record-skip same-fingerprint build'],
    check: (ds) =>
      expect(only(ds, 'record-skip')).toMatchObject({ identicalTo: 1, supersedes: [2] }),
  },
  {
    name: 'failed builds count as built: the same inputs do not run again',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [{ job: 'build', state: 'failed', inputs: { app: 'a1' } }],
    },
    event: push('app', 'a1'),
    decisions: ['advance-head new-version', 'record-skip same-fingerprint build'],
  },
  {
    name: 'cancelled builds do not count: the same inputs run again',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [{ job: 'build', state: 'cancelled', inputs: { app: 'a1' } }],
    },
    event: push('app', 'a1'),
    decisions: ['advance-head new-version', 'queue-build built build'],
  },
  {
    name: 'a superseded build frees its fingerprint',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a3' }],
      builds: [
        { job: 'build', state: 'passed', inputs: { app: 'a1' } },
        { job: 'build', state: 'superseded', inputs: { app: 'a2' } },
        { job: 'build', state: 'queued', inputs: { app: 'a3' } },
      ],
    },
    event: push('app', 'a2'),
    decisions: ['advance-head new-version', 'queue-build built build'],
    check: (ds) => expect(only(ds, 'queue-build').supersedes).toEqual([3]),
  },

  // triggers
  {
    name: 'an unforced trigger on built inputs only notes it',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a1' }],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'a1' } }],
    },
    event: events.trigger('build', { by: 'alice' }),
    decisions: ['note same-fingerprint build'],
    check: (ds) => expect(ds[0]?.detail).toContain('build #1'),
  },
  {
    name: 'a forced trigger builds identical inputs again',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a1' }],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'a1' } }],
    },
    event: events.trigger('build', { force: true, by: 'alice' }),
    decisions: ['queue-build forced build'],
    check: (ds) => {
      const q = only(ds, 'queue-build');
      expect(q).toMatchObject({
        forced: true,
        cause: { kind: 'manual', forced: true, by: 'alice' },
      });
      expect(q.detail).toContain('forced');
    },
  },
  {
    name: 'a trigger on new inputs builds them',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'a1' }] },
    event: events.trigger('build'),
    decisions: ['queue-build built build'],
  },
  {
    name: 'a trigger with a pinned input builds that version; the other inputs take their heads',
    pipeline: branches,
    given: {
      heads: [
        { source: 'app', version: 'r2', ref: 'release/1' },
        { source: 'lib', version: 'l2' },
      ],
    },
    event: events.trigger('release', {
      by: 'alice',
      id: 9,
      pins: [{ source: 'app', version: 'r1', ref: 'release/1' }],
    }),
    decisions: ['queue-build built release'],
    check: (ds) => {
      const q = only(ds, 'queue-build');
      expect(q.inputs).toEqual([
        { source: 'app', version: 'r1', ref: 'release/1', origin: 'manual', eventId: 9 },
        { source: 'lib', version: 'l2', ref: null, origin: 'webhook', eventId: null },
      ]);
      expect(q.cause).toEqual({
        kind: 'manual',
        forced: false,
        by: 'alice',
        pins: [{ source: 'app', version: 'r1', ref: 'release/1' }],
      });
      expect(q.detail).toContain('manual trigger by alice with app@r1 pinned');
    },
  },
  {
    name: 'a pinned input set that was built already is only noted without force',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'a1' } }],
    },
    event: events.trigger('build', { pins: [{ source: 'app', version: 'a1', ref: 'main' }] }),
    decisions: ['note same-fingerprint build'],
  },
  {
    name: "a rebuild repeats the build's input set, forced, and says which build",
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [{ job: 'build', state: 'failed', inputs: { app: 'a1' } }],
    },
    event: events.trigger('build', {
      force: true,
      by: 'bob',
      rebuildOf: 1,
      pins: [{ source: 'app', version: 'a1', ref: 'main' }],
    }),
    decisions: ['queue-build forced build'],
    check: (ds) => {
      const q = only(ds, 'queue-build');
      expect(q.cause).toMatchObject({ kind: 'manual', forced: true, by: 'bob', rebuildOf: 1 });
      expect(q.inputs.map((i) => i.version)).toEqual(['a1']);
      expect(q.detail).toContain('rebuild of build #1 by bob');
    },
  },
  {
    name: 'a pin of a source that is not an input of the job is refused',
    pipeline: single,
    given: { heads: [{ source: 'app', version: 'a2' }] },
    event: events.trigger('build', { pins: [{ source: 'lib', version: 'l1', ref: null }] }),
    decisions: ['note unknown-source build'],
  },
  {
    name: 'a trigger while an input has no version waits',
    pipeline: single,
    event: events.trigger('build', { force: true }),
    decisions: ['note waiting-input build'],
  },

  // reconcile
  {
    name: 'reconcile: an unchanged definition schedules nothing',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a1' }],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'a1' } }],
    },
    event: events.reconcile(),
    decisions: [],
  },
  {
    name: 'reconcile: a changed definition schedules the job once',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a1' }],
      builds: [{ job: 'build', state: 'passed', inputs: { app: 'a1' }, definitionHash: 'old' }],
    },
    event: events.reconcile(),
    decisions: ['queue-build definition-changed build'],
    check: (ds) => expect(only(ds, 'queue-build').cause).toEqual({ kind: 'definition' }),
  },
  {
    name: 'reconcile: a changed definition back to one already built schedules nothing',
    pipeline: single,
    given: {
      heads: [{ source: 'app', version: 'a1' }],
      builds: [
        { job: 'build', state: 'passed', inputs: { app: 'a1' } },
        { job: 'build', state: 'passed', inputs: { app: 'a1' }, definitionHash: 'other' },
      ],
    },
    event: events.reconcile(),
    decisions: [],
  },
  {
    name: 'reconcile: a new job without input versions waits silently',
    pipeline: single,
    event: events.reconcile(),
    decisions: [],
  },
  {
    name: 'reconcile: a job without inputs builds once',
    pipeline: noInputs,
    event: events.reconcile(),
    decisions: ['queue-build definition-changed hello'],
  },

  // supersede and cancel_running
  {
    name: 'a push to another branch supersedes nothing: each branch is its own concurrency group',
    pipeline: branches,
    given: {
      heads: [{ source: 'app', version: 'a2', ref: 'main' }],
      builds: [
        { job: 'build', state: 'running', inputs: { app: 'a1' } },
        { job: 'build', state: 'queued', inputs: { app: 'a2' } },
      ],
    },
    event: push('app', 'r1', 'release/1'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'note waiting-input release',
    ],
    check: (ds) =>
      expect(queued(ds, 'build')).toMatchObject({
        supersedes: [],
        cancels: [],
        concurrency: { group: 'build@release/1', limit: 1, supersede: true },
      }),
  },
  {
    name: 'a push to the same branch supersedes the queued build of that branch only',
    pipeline: branches,
    given: {
      heads: [{ source: 'app', version: 'r1', ref: 'release/1' }],
      builds: [
        { job: 'build', state: 'queued', inputs: { app: 'm1' } },
        { job: 'build', state: 'queued', inputs: { app: 'r1' }, ref: 'release/1' },
      ],
    },
    event: push('app', 'm2', 'main'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'note filtered-branch release',
    ],
    check: (ds) =>
      expect(queued(ds, 'build')).toMatchObject({
        supersedes: [1],
        concurrency: { group: 'build@main', limit: 1, supersede: true },
      }),
  },
  {
    name: 'a newer input set supersedes the queued build; the running one is left alone',
    pipeline: knobs,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [
        { job: 'build', state: 'running', inputs: { app: 'a1' } },
        { job: 'build', state: 'queued', inputs: { app: 'a2' } },
      ],
    },
    event: push('app', 'a3'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built keep',
      'queue-build built deploy',
    ],
    check: (ds) => {
      expect(queued(ds, 'build')).toMatchObject({ supersedes: [2], cancels: [] });
      expect(queued(ds, 'build').detail).toContain('supersedes #2');
    },
  },
  {
    name: 'supersede: false keeps queued builds',
    pipeline: knobs,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [{ job: 'keep', state: 'queued', inputs: { app: 'a2' } }],
    },
    event: push('app', 'a3'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built keep',
      'queue-build built deploy',
    ],
    // The queued build says so too: once lost, a newer build of it does not stand in for it.
    check: (ds) =>
      expect(queued(ds, 'keep')).toMatchObject({
        supersedes: [],
        cancels: [],
        concurrency: { supersede: false },
      }),
  },
  {
    name: 'cancel_running cancels the running build and supersedes the queued one',
    pipeline: knobs,
    given: {
      heads: [{ source: 'app', version: 'a2' }],
      builds: [
        { job: 'deploy', state: 'running', inputs: { app: 'a1' } },
        { job: 'deploy', state: 'queued', inputs: { app: 'a2' } },
      ],
    },
    event: push('app', 'a3'),
    decisions: [
      'advance-head new-version',
      'queue-build built build',
      'queue-build built keep',
      'queue-build built deploy',
    ],
    check: (ds) => {
      expect(queued(ds, 'deploy')).toMatchObject({ supersedes: [2], cancels: [1] });
      expect(queued(ds, 'deploy').detail).toContain('cancels running #1');
    },
  },

  // unknown names
  {
    name: 'an unknown source is noted',
    pipeline: single,
    event: push('nope', 'x1', null),
    decisions: ['note unknown-source'],
  },
  {
    name: 'a trigger for an unknown job is noted',
    pipeline: single,
    event: events.trigger('nope'),
    decisions: ['note unknown-job nope'],
  },
  {
    name: 'a settle for a job removed by a reload is noted',
    pipeline: single,
    event: events.settle('gone'),
    decisions: ['note unknown-job gone'],
  },
];

describe('decide: scenario table', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const snapshot = givenSnapshot(row.pipeline, row.given);
    const ds = decide(snapshot, row.event, row.now ?? NOW);
    expect(ds.map(summary)).toEqual(row.decisions);
    for (const d of ds) expect(d.detail.length, `detail of ${summary(d)}`).toBeGreaterThan(0);
    row.check?.(ds);
  });
});

describe('decide: regressions', () => {
  it('a forced rebuild that is superseded does not free the fingerprint of the original build', () => {
    // #1 passed a1; a forced #2 (a1) is queued, then superseded by #3 (a2). a1 is still built (#1).
    const m = new ModelStore(single);
    m.step(push('app', 'a1'), 0);
    m.transition(1, 'running');
    m.transition(1, 'passed');
    m.step(events.trigger('build', { force: true, id: 2 }), 0);
    m.step(push('app', 'a2'), 0);
    expect(m.builds.map((b) => b.state)).toEqual(['passed', 'superseded', 'queued']);
    const ds = m.step(push('app', 'a1'), 0);
    expect(ds.map(summary)).toEqual([
      'advance-head new-version',
      'record-skip same-fingerprint build',
    ]);
    expect(only(ds, 'record-skip').identicalTo).toBe(1);
  });

  it('a forced rebuild cancelled while queued does not free the original build', () => {
    const m = new ModelStore(single);
    m.step(push('app', 'a1'), 0);
    m.transition(1, 'running');
    m.transition(1, 'passed');
    m.step(events.trigger('build', { force: true }), 0);
    m.transition(2, 'cancelled', 'cancelled by alice');
    expect(m.step(events.trigger('build'), 0).map(summary)).toEqual([
      'note same-fingerprint build',
    ]);
  });

  it('is deterministic: the same snapshot and event give equal decisions', () => {
    const given: Given = { heads: [{ source: 'app', version: 'a1' }] };
    const a = decide(givenSnapshot(fanOut, given), push('app', 'a2'), NOW);
    const b = decide(givenSnapshot(fanOut, given), push('app', 'a2'), NOW);
    expect(a).toEqual(b);
  });
});
