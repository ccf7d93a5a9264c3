import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { BuildState } from '../../src/core/build.js';
import type { SchedulerEvent } from '../../src/core/event.js';
import type { Decision } from '../../src/core/scheduler/index.js';
import { MemorySnapshot } from '../../src/scheduler/scheduler-state.js';
import { ManualClock } from '../../src/testing/manual-clock.js';
import { COUNTED_STATES, ModelStore } from '../../src/testing/model-snapshot.js';
import { amqp, git, http, job, pipeline } from '../../src/testing/pipeline-builder.js';

/**
 * Random event sequences against the scheduler and a model of the store (the engine's own
 * `MemorySnapshot` over in-memory rows). Builds are claimed, finished and cancelled in between,
 * passed `build` runs announce outputs, and time passes so quiet periods settle.
 */

const P = pipeline({
  sources: { app: git(['main', 'release/*']), feed: http(), glibc: amqp({ quietPeriodMs: 1000 }) },
  jobs: {
    build: job({ inputs: ['app'], outputs: { dist: 'dist/*' } }),
    lint: job({ inputs: ['app'], paths: ['src/**'], steps: ['make lint'] }),
    lint2: job({ inputs: ['app'], paths: ['src/**'], steps: ['make lint'] }),
    release: job({
      inputs: ['app', 'feed'],
      branches: ['release/*'],
      cancelRunning: true,
      steps: ['make release'],
    }),
    rpm: job({ inputs: ['glibc', 'feed'], steps: ['rpmbuild'] }),
    integration: job({ inputs: ['build.dist', 'feed'], supersede: false, steps: ['./it.sh'] }),
    slow: job({ inputs: ['feed'], quietPeriodMs: 500, steps: ['make slow'] }),
  },
});

type Command =
  | {
      readonly t: 'push';
      readonly v: number;
      readonly ref: string;
      readonly paths: readonly string[] | null;
    }
  | { readonly t: 'bus'; readonly v: number }
  | { readonly t: 'poll'; readonly v: number }
  | { readonly t: 'trigger'; readonly job: string; readonly force: boolean }
  | { readonly t: 'reconcile' }
  | { readonly t: 'claim' }
  | {
      readonly t: 'finish';
      readonly k: number;
      readonly state: BuildState;
      readonly digest: number;
    }
  | { readonly t: 'cancel'; readonly k: number }
  | { readonly t: 'tick'; readonly ms: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      t: fc.constant('push' as const),
      v: fc.nat(4),
      ref: fc.constantFrom('main', 'release/1', 'feature/x'),
      paths: fc.constantFrom(null, ['src/a.ts'], ['README.md'], []),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('bus' as const), v: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('poll' as const), v: fc.nat(2) }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('trigger' as const),
      job: fc.constantFrom(
        'build',
        'build',
        'rpm',
        'lint',
        'release',
        'integration',
        'slow',
        'nope',
      ),
      force: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'reconcile' as const }) },
  { weight: 3, arbitrary: fc.constant({ t: 'claim' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('finish' as const),
      k: fc.nat(5),
      state: fc.constantFrom<BuildState>('passed', 'passed', 'failed', 'error', 'cancelled'),
      digest: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const), k: fc.nat(5) }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(100, 600, 1500) }),
  },
);

interface Step {
  readonly event: SchedulerEvent;
  readonly decisions: readonly Decision[];
}

/** Runs `commands`, then lets every quiet period end; returns the model and each decided event. */
function simulate(commands: readonly Command[]): {
  model: ModelStore;
  steps: Step[];
  drift: string[];
} {
  const model = new ModelStore(P);
  const clock = new ManualClock(0);
  const steps: Step[] = [];
  const drift: string[] = [];
  const run = (event: SchedulerEvent): void => {
    const decisions = model.step(event, clock.now());
    steps.push({ event, decisions });
    for (const d of decisions) {
      if (d.kind !== 'queue-build') continue;
      // The runner kills cancel_running targets at once.
      for (const id of d.cancels)
        if (model.builds[id - 1]?.state === 'running')
          model.transition(id, 'cancelled', 'cancel_running');
    }
    drift.push(...compareWithReload(model));
  };
  const source = (
    source: string,
    version: string,
    extra: Partial<Extract<SchedulerEvent, { kind: 'source' }>>,
  ) =>
    run({
      kind: 'source',
      id: model.eventId(),
      source,
      version,
      origin: 'webhook',
      receivedAt: clock.now(),
      ref: null,
      changedPaths: null,
      producedBy: null,
      ancestry: null,
      ...extra,
    });
  const byState = (state: BuildState) => model.builds.filter((b) => b.state === state);

  for (const c of commands) {
    switch (c.t) {
      case 'push':
        source('app', `a${c.v}`, { ref: c.ref, changedPaths: c.paths });
        break;
      case 'bus':
        source('glibc', `2.41-${c.v}`, { origin: 'bus' });
        break;
      case 'poll':
        source('feed', `etag-${c.v}`, { origin: 'poll' });
        break;
      case 'trigger':
        run({
          kind: 'trigger',
          id: model.eventId(),
          job: c.job,
          force: c.force,
          by: 'prop',
          pins: [],
          rebuildOf: null,
          receivedAt: clock.now(),
        });
        break;
      case 'reconcile':
        run({ kind: 'reconcile', id: model.eventId(), receivedAt: clock.now() });
        break;
      case 'claim': {
        const next = byState('queued')[0];
        if (next) model.transition(next.id, 'running');
        break;
      }
      case 'finish': {
        const running = byState('running');
        const b = running[c.k % Math.max(1, running.length)];
        if (!b) break;
        model.transition(b.id, c.state);
        if (c.state === 'passed' && b.job === 'build') {
          source('build.dist', `sha-d${c.digest}`, { origin: 'output', producedBy: b.id });
        }
        break;
      }
      case 'cancel': {
        const queued = byState('queued');
        const b = queued[c.k % Math.max(1, queued.length)];
        if (b) model.transition(b.id, 'cancelled', 'cancelled by prop');
        break;
      }
      case 'tick':
        clock.advance(c.ms);
        for (const e of model.takeDueSettles(clock.now())) run(e);
        break;
    }
  }
  clock.advance(60_000);
  for (const e of model.takeDueSettles(clock.now())) run(e);
  return { model, steps, drift };
}

/** Differences between the incrementally kept snapshot and one loaded from the rows. */
function compareWithReload(model: ModelStore): string[] {
  const fresh = new MemorySnapshot(P, model.state());
  const live = model.snapshot;
  const out: string[] = [];
  for (const fp of new Set(model.builds.map((b) => b.fingerprint))) {
    const a = live.buildWithFingerprint(fp)?.id;
    const b = fresh.buildWithFingerprint(fp)?.id;
    if (a !== b) out.push(`fingerprint ${fp.slice(0, 8)}: live #${a} vs stored #${b}`);
  }
  for (const j of P.jobs.keys()) {
    const a = live.activeBuilds(j).map((b) => `${b.id}:${b.state}`);
    const b = fresh.activeBuilds(j).map((x) => `${x.id}:${x.state}`);
    if (a.join() !== b.join()) out.push(`active ${j}: live ${a.join()} vs stored ${b.join()}`);
    if (live.lastDefinitionHash(j) !== fresh.lastDefinitionHash(j))
      out.push(`last definition of ${j}`);
  }
  for (const s of P.sources.keys()) {
    const key = (h: { ref: string | null; version: string; seq: number }) =>
      `${h.ref}=${h.version}@${h.seq}`;
    const a = live.heads(s).map(key).sort();
    const b = fresh.heads(s).map(key).sort();
    if (a.join() !== b.join()) out.push(`heads ${s}: live ${a.join()} vs stored ${b.join()}`);
  }
  return out;
}

const RUNS = { numRuns: 200 };
const sequences = fc.array(command, { maxLength: 60 });

/** Decisions a consumer may get when a version of its input arrives. */
const PER_CONSUMER = new Set([
  'queue-build built',
  'record-skip same-fingerprint',
  'record-skip filtered-paths',
  'defer deferred',
  'note filtered-branch',
  'note waiting-input',
]);
const AFTER_SETTLE = new Set([
  'queue-build settled',
  'record-skip same-fingerprint',
  'note waiting-input',
]);

describe('decide: properties over random event sequences', () => {
  it('never has two non-forced counted builds with one fingerprint', () => {
    fc.assert(
      fc.property(sequences, (commands) => {
        const { model } = simulate(commands);
        const seen = new Map<string, number>();
        for (const b of model.builds) {
          if (b.forced || !COUNTED_STATES.includes(b.state)) continue;
          const other = seen.get(b.fingerprint);
          expect(
            other,
            `builds #${other} and #${b.id} (${b.job}) share a fingerprint`,
          ).toBeUndefined();
          seen.set(b.fingerprint, b.id);
        }
      }),
      RUNS,
    );
  });

  it('gives every consumer of a new version exactly one decision: build, skip, filter, defer or wait', () => {
    fc.assert(
      fc.property(sequences, (commands) => {
        const { steps } = simulate(commands);
        for (const { event, decisions } of steps) {
          if (event.kind === 'source' && decisions.some((d) => d.kind === 'advance-head')) {
            for (const consumer of P.consumers.get(event.source) ?? []) {
              const mine = decisions
                .filter((d) => d.job === consumer)
                .map((d) => `${d.kind} ${d.rule}`);
              expect(mine, `${consumer} on ${event.source}@${event.version}`).toHaveLength(1);
              expect(PER_CONSUMER, `${consumer}: ${mine[0]}`).toContain(mine[0]);
            }
          }
          if (event.kind === 'settle') {
            expect(decisions).toHaveLength(1);
            expect(AFTER_SETTLE).toContain(`${decisions[0]!.kind} ${decisions[0]!.rule}`);
          }
        }
      }),
      RUNS,
    );
  });

  it('lets every deferred job settle exactly when its quiet period ends', () => {
    fc.assert(
      fc.property(sequences, (commands) => {
        const { model, steps } = simulate(commands);
        expect(model.pendingSettles.size).toBe(0);
        const deferred = new Set(
          steps.flatMap((s) => s.decisions.filter((d) => d.kind === 'defer').map((d) => d.job)),
        );
        const settled = new Set(
          steps.flatMap((s) => (s.event.kind === 'settle' ? [s.event.job] : [])),
        );
        expect([...settled].sort()).toEqual([...deferred].sort());
      }),
      RUNS,
    );
  });

  it('keeps at most one queued build per superseding job and branch (concurrency group), and each superseded build points to a newer one of its group', () => {
    fc.assert(
      fc.property(sequences, (commands) => {
        const { model } = simulate(commands);
        for (const [name, def] of P.jobs) {
          if (!def.supersede) continue;
          const queued = model.builds.filter((b) => b.job === name && b.state === 'queued');
          for (const group of new Set(queued.map((b) => b.group)))
            expect(queued.filter((b) => b.group === group).length).toBeLessThanOrEqual(1);
        }
        for (const b of model.builds.filter((x) => x.state === 'superseded')) {
          const by = model.builds[(b.relatedBuild ?? 0) - 1];
          expect(by?.job).toBe(b.job);
          expect(by?.group).toBe(b.group);
          expect(by!.id).toBeGreaterThan(b.id);
        }
      }),
      RUNS,
    );
  });

  it('keeps the live snapshot equal to one reloaded from the rows', () => {
    fc.assert(
      fc.property(sequences, (commands) => {
        expect(simulate(commands).drift).toEqual([]);
      }),
      RUNS,
    );
  });

  it('is deterministic: replaying a sequence gives identical decisions', () => {
    fc.assert(
      fc.property(sequences, (commands) => {
        const a = simulate(commands).steps.map((s) => s.decisions);
        const b = simulate(commands).steps.map((s) => s.decisions);
        expect(b).toEqual(a);
      }),
      { numRuns: 100 },
    );
  });
});
