import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { BuildState } from '../../src/core/build.js';
import type { SchedulerEvent } from '../../src/core/event.js';
import { decide, type BuildRef, type SourceHead } from '../../src/core/scheduler/index.js';
import { MemorySnapshot } from '../../src/scheduler/scheduler-state.js';
import type { RunResult } from '../../src/executor/port.js';
import type { AppliedDecisions, NewEvent, SchedulerState } from '../../src/store/ports.js';
import { ModelStore } from '../../src/testing/model-snapshot.js';
import { dropSpareSchemas } from '../../src/testing/postgres-fixture.js';
import { amqp, git, http, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { inbox, queue, reads, scheduler, sqliteFile, sources, storeAdapters } from './ports.js';
import type { StoreUnderTest } from './ports.js';

/**
 * "What a decision does to state" is written in SQL (the store), in `ModelStore` (the property
 * tests' store) and in `MemorySnapshot` (the scheduler's incremental view). This drives the
 * model and a real store with the same generated sequences — events decided and applied, claims,
 * finishes, cancels, time passing — and after every step compares what callers observe: the
 * decisions (the model decides on its incremental snapshot, the store side on a snapshot freshly
 * loaded from the rows), what each application reports, heads, active and counted builds, last
 * definitions, pending quiet periods, every build's state and the claim order.
 */

const P = pipeline({
  sources: { app: git(['main', 'release/*']), feed: http(), glibc: amqp({ quietPeriodMs: 1000 }) },
  jobs: {
    build: job({ inputs: ['app'], outputs: { dist: 'dist/*' }, concurrency: 2 }),
    lint: job({ inputs: ['app'], paths: ['src/**'], steps: ['make lint'] }),
    release: job({
      inputs: ['app', 'feed'],
      branches: ['release/*'],
      cancelRunning: true,
      steps: ['make release'],
    }),
    rpm: job({ inputs: ['glibc', 'feed'], steps: ['rpmbuild'] }),
    integration: job({
      inputs: ['build.dist', 'feed'],
      supersede: false,
      concurrency: 2,
      steps: ['./it.sh'],
    }),
    slow: job({ inputs: ['feed'], quietPeriodMs: 500, concurrency: 3, steps: ['make slow'] }),
  },
});

type Ending = 'passed' | 'failed' | 'error' | 'cancelled';

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
      readonly state: Ending;
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
      paths: fc.constantFrom(null, ['src/a.ts'], ['README.md']),
    }),
  },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('bus' as const), v: fc.nat(3) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('poll' as const), v: fc.nat(2) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('trigger' as const),
      job: fc.constantFrom('build', 'rpm', 'release', 'integration', 'slow', 'nope'),
      force: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ t: 'reconcile' as const }) },
  { weight: 4, arbitrary: fc.constant({ t: 'claim' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('finish' as const),
      k: fc.nat(5),
      state: fc.constantFrom<Ending>('passed', 'passed', 'failed', 'error', 'cancelled'),
      digest: fc.nat(2),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const), k: fc.nat(5) }) },
  {
    weight: 2,
    arbitrary: fc.record({ t: fc.constant('tick' as const), ms: fc.constantFrom(100, 600, 1500) }),
  },
);

function result(state: Ending, digest: string | null): RunResult {
  const base = { outputs: [], coverage: null, warnings: [] };
  switch (state) {
    case 'failed':
      return { ...base, state, step: 'make', exitCode: 1, reason: 'step "make" exited with 1' };
    case 'error':
      return { ...base, state, code: 'internal', step: null, reason: 'boom' };
    case 'cancelled':
      return { ...base, state, reason: 'cancelled by prop' };
    case 'passed':
      return {
        ...base,
        state: 'passed',
        outputs: digest === null ? [] : [{ name: 'dist', digest, files: [] }],
      };
  }
}

/** The parts of scheduler state callers rely on, in a form `toEqual` compares. */
function observable(s: SchedulerState) {
  const ref = (b: BuildRef) =>
    `${b.id}:${b.job}:${b.state}:${b.fingerprint}:${b.group}:${b.forced}`;
  const head = (h: SourceHead) =>
    `${h.source}@${h.ref ?? ''}=${h.version} seq ${h.seq} event ${h.eventId} ${h.origin} by ${h.producedBy}`;
  return {
    heads: s.heads.map(head).sort(),
    active: s.activeBuilds.map(ref),
    counted: s.builtFingerprints.map(ref),
    lastDefinition: Object.fromEntries([...s.lastDefinitionHash].sort()),
    settles: s.pendingSettles.map((p) => `${p.job}@${p.dueAt}`).sort(),
  };
}

/** What `decide` reads from a snapshot: every job and source of `P`, the given fingerprints. */
function snapshotView(s: MemorySnapshot, fingerprints: readonly string[]) {
  const ids = (bs: readonly BuildRef[]) => bs.map((b) => `${b.id}:${b.state}`).join(' ');
  return {
    jobs: [...P.jobs.keys()].map(
      (j) => `${j}: active ${ids(s.activeBuilds(j))} last ${s.lastDefinitionHash(j)}`,
    ),
    heads: [...P.sources.keys()].map((src) =>
      s
        .heads(src)
        .map((h) => `${h.ref ?? ''}=${h.version}@${h.seq}`)
        .sort()
        .join(' '),
    ),
    fingerprints: fingerprints.map((fp) => `${fp.slice(0, 8)}: ${s.buildWithFingerprint(fp)?.id}`),
  };
}

const appliedView = (a: AppliedDecisions) => ({
  queued: a.queued.map((b) => `${b.id}:${b.fingerprint}:${b.group}`),
  skipped: a.skipped.map((b) => `${b.id}:${b.fingerprint}`),
  superseded: a.superseded,
  cancelRequested: a.cancelRequested,
  heads: a.heads.map((h) => `${h.source}@${h.ref ?? ''}=${h.version} seq ${h.seq}`),
});

/** Runs `commands` against a fresh model and `store`, failing at the first difference. */
async function compare(store: StoreUnderTest, commands: readonly Command[]): Promise<void> {
  const model = new ModelStore(P);
  await sources(store).syncSources(
    [...P.sources.values()].map((s) => ({ name: s.name, kind: s.kind, url: null })),
  );
  let now = 1000;
  let step = 0;
  const where = (what: string) => `step ${step} (${JSON.stringify(commands[step])}): ${what}`;

  /** Decides and applies every event waiting in the store's inbox, on both sides. */
  const drain = async (): Promise<void> => {
    for (let guard = 0; guard < 50; guard++) {
      const [event] = await scheduler(store).pendingEvents(1);
      if (!event) return;
      await decideBoth(event);
    }
    throw new Error('the inbox did not drain in 50 events');
  };
  const decideBoth = async (event: SchedulerEvent): Promise<void> => {
    const mine = decide(model.snapshot, event, now);
    const fresh = new MemorySnapshot(P, await scheduler(store).loadSchedulerState());
    const theirs = decide(fresh, event, now);
    expect(theirs, where('decisions on the stored state')).toEqual(mine);
    const m = model.apply(event, mine, now);
    model.snapshot.applied(m, mine);
    const s = await scheduler(store).applyDecisions(event, theirs, now);
    expect(appliedView(s), where('applied')).toEqual(appliedView(m));
    for (const d of mine) {
      if (d.kind !== 'queue-build') continue;
      for (const id of d.cancels) {
        // The runner kills cancel_running targets and finishes them `cancelled`.
        if (model.builds[id - 1]?.state !== 'running') continue;
        model.transition(id, 'cancelled', 'cancel_running');
        await queue(store).finishBuild(
          id,
          { result: result('cancelled', null), logBytes: 0, outputEvents: [] },
          now,
        );
      }
    }
  };
  const append = async (e: NewEvent): Promise<void> => {
    await inbox(store).appendEvent(e);
    await drain();
  };
  const sourceEvent = (source: string, version: string, extra: Partial<NewEvent> = {}): NewEvent =>
    ({
      kind: 'source',
      source,
      version,
      ref: null,
      origin: 'webhook',
      deliveryId: null,
      changedPaths: null,
      producedBy: null,
      receivedAt: now,
      ...extra,
    }) as NewEvent;
  const inState = (state: BuildState) => model.builds.filter((b) => b.state === state);

  for (; step < commands.length; step++) {
    const c = commands[step]!;
    switch (c.t) {
      case 'push':
        await append(sourceEvent('app', `a${c.v}`, { ref: c.ref, changedPaths: c.paths }));
        break;
      case 'bus':
        await append(sourceEvent('glibc', `2.41-${c.v}`, { origin: 'bus' }));
        break;
      case 'poll':
        await append(sourceEvent('feed', `etag-${c.v}`, { origin: 'poll' }));
        break;
      case 'trigger':
        await append({ kind: 'trigger', job: c.job, force: c.force, by: 'prop', receivedAt: now });
        break;
      case 'reconcile':
        await append({ kind: 'reconcile', receivedAt: now });
        break;
      case 'claim': {
        const m = model.claimNext();
        const s = await queue(store).claimNextBuild('w', now);
        expect(s?.id ?? null, where('claimed build')).toBe(m?.id ?? null);

        break;
      }
      case 'finish': {
        const running = inState('running');
        const b = running[c.k % Math.max(1, running.length)];
        if (!b) break;
        const digest = c.state === 'passed' && b.job === 'build' ? `sha-d${c.digest}` : null;
        model.transition(b.id, c.state);
        await queue(store).finishBuild(
          b.id,
          {
            result: result(c.state, digest),
            logBytes: 0,
            outputEvents:
              digest === null
                ? []
                : [sourceEvent('build.dist', digest, { origin: 'output', producedBy: b.id })],
          },
          now,
        );
        await drain();
        break;
      }
      case 'cancel': {
        const queued = inState('queued');
        const b = queued[c.k % Math.max(1, queued.length)];
        if (!b) break;
        model.transition(b.id, 'cancelled', 'cancelled by prop');
        await queue(store).cancelQueuedBuild(b.id, 'cancelled by prop', now);
        break;
      }
      case 'tick': {
        now += c.ms;
        const due = model.takeDueSettles(now).map((e) => (e.kind === 'settle' ? e.job : ''));
        const taken = await scheduler(store).takeDueSettles(now);
        expect([...taken].sort(), where('due quiet periods')).toEqual(due.sort());
        await drain();
        break;
      }
    }
    const stored = await scheduler(store).loadSchedulerState();
    expect(observable(stored), where('scheduler state')).toEqual(observable(model.state()));
    const fps = [...new Set(model.builds.map((b) => b.fingerprint))];
    expect(
      snapshotView(model.snapshot, fps),
      where('incremental snapshot vs one loaded from the stored rows'),
    ).toEqual(snapshotView(new MemorySnapshot(P, stored), fps));
    const builds = await reads(store).listBuilds({ limit: 1000 });
    expect(
      builds.map((b) => `${b.id}:${b.state}:${b.relatedBuild}`).reverse(),
      where('builds'),
    ).toEqual(model.builds.map((b) => `${b.id}:${b.state}:${b.relatedBuild}`));
  }
}

// Bounded: 30 sequences of 15–40 commands (long enough for groups to run two builds at once).
// The SQLite file adapter runs the very same SQL as :memory: and costs 3× as much per run, so
// the budget goes to distinct backends; the per-port suites cover the file adapter.
const RUNS = { numRuns: 30 };

describe('ModelStore and the SQL store agree on every decision sequence', () => {
  afterAll(dropSpareSchemas);
  for (const adapter of storeAdapters.filter((a) => a !== sqliteFile)) {
    it(`[${adapter.name}] same decisions, same state, same claim order`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(command, { minLength: 15, maxLength: 40, size: 'max' }),
          async (commands) => {
            const opened = await adapter.open();
            try {
              await compare(opened.store, commands);
            } finally {
              await opened.dispose();
            }
          },
        ),
        RUNS,
      );
      // A networked database answers each statement in ~1 ms where :memory: takes microseconds.
    }, 240_000);
  }
});
