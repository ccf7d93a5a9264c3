import { afterAll, afterEach, beforeEach, describe } from 'vitest';
import type { BuildInput } from '../../../src/core/build.js';
import type { SourceEvent } from '../../../src/core/event.js';
import type { Decision } from '../../../src/core/scheduler/index.js';
import type { RunResult } from '../../../src/executor/port.js';
import type { FinishedRun, NewEvent } from '../../../src/store/ports.js';
import { dropSpareSchemas } from '../../../src/testing/postgres-fixture.js';
import {
  inbox,
  queue,
  scheduler,
  sources,
  storeAdapters,
  type OpenedStore,
  type StoreUnderTest,
} from '../ports.js';

/**
 * Runs `body` once per store adapter, each test on a fresh store that knows one git source
 * `app`. `body` gets a getter (the store is opened in `beforeEach`).
 */
export function forEachStore(port: string, body: (store: () => StoreUnderTest) => void): void {
  for (const adapter of storeAdapters) {
    describe(`${port} port conformance [${adapter.name}]`, () => {
      let opened: OpenedStore | undefined;
      beforeEach(async () => {
        opened = await adapter.open();
        await sources(opened.store).syncSources([
          { name: 'app', kind: 'git', url: '/srv/app.git' },
        ]);
      });
      afterEach(async () => {
        await opened?.dispose();
        opened = undefined;
      });
      afterAll(dropSpareSchemas);
      body(() => {
        if (!opened) throw new Error('store used outside a test');
        return opened.store;
      });
    });
  }
}

export const sha = (c: string | number): string => String(c).padEnd(40, '0');

export function push(
  version: string,
  deliveryId: string | null = null,
  ref: string | null = 'main',
  receivedAt = 1000,
): Extract<NewEvent, { kind: 'source' }> {
  return {
    kind: 'source',
    source: 'app',
    version,
    ref,
    origin: 'webhook',
    deliveryId,
    changedPaths: ['src/a.ts'],
    producedBy: null,
    receivedAt,
  };
}

export function outputEvent(source: string, digest: string, producedBy: number): NewEvent {
  return {
    kind: 'source',
    source,
    version: digest,
    ref: null,
    origin: 'output',
    deliveryId: null,
    changedPaths: null,
    producedBy,
    receivedAt: 3000,
  };
}

export const input = (version: string, eventId = 1): BuildInput => ({
  source: 'app',
  version,
  origin: 'webhook',
  eventId,
  ref: 'main',
});

type QueueBuild = Extract<Decision, { kind: 'queue-build' }>;

export function queueBuild(
  fingerprint: string,
  version: string,
  extra: Partial<QueueBuild> = {},
): QueueBuild {
  return {
    kind: 'queue-build',
    job: 'build',
    source: 'app',
    version,
    fingerprint,
    definitionHash: 'def1',
    inputs: [input(version)],
    cause: { kind: 'version', source: 'app', version, eventId: 1 },
    forced: false,
    supersedes: [],
    cancels: [],
    concurrency: { group: 'build@main', limit: 1, supersede: true },
    rule: 'built',
    detail: 'build queued',
    ...extra,
  };
}

export function advanceHead(version: string, ref: string | null = 'main'): Decision {
  return {
    kind: 'advance-head',
    source: 'app',
    version,
    ref,
    origin: 'webhook',
    producedBy: null,
    job: null,
    rule: 'new-version',
    detail: 'new head',
  };
}

export function skip(fingerprint: string, version: string, identicalTo: number): Decision {
  return {
    kind: 'record-skip',
    job: 'build',
    source: 'app',
    version,
    fingerprint,
    definitionHash: 'def1',
    inputs: [input(version)],
    cause: { kind: 'version', source: 'app', version, eventId: 1 },
    identicalTo,
    reason: `identical to build #${identicalTo}`,
    group: 'build@main',
    supersedes: [],
    rule: 'same-fingerprint',
    detail: 'same',
  };
}

export const passed = (extra: Partial<RunResult> = {}): RunResult =>
  ({ state: 'passed', outputs: [], coverage: null, warnings: [], ...extra }) as RunResult;

export const finished = (result: RunResult = passed()): FinishedRun => ({
  result,
  logBytes: 0,
  outputEvents: [],
});

/** Appends a push of `version` and returns it as the scheduler reads it from the inbox. */
export async function eventFor(store: StoreUnderTest, version: string): Promise<SourceEvent> {
  const { id } = await inbox(store).appendEvent(push(version));
  const e = (await scheduler(store).pendingEvents(100)).find((p) => p.id === id);
  if (e?.kind !== 'source') throw new Error('expected a source event');
  return e;
}

/** Queues one build per fingerprint (one event) and returns their ids in queue order. */
export async function queued(
  store: StoreUnderTest,
  version: string,
  builds: ReadonlyArray<[fingerprint: string, extra?: Partial<QueueBuild>]>,
  now = 2000,
): Promise<number[]> {
  const e = await eventFor(store, version);
  const applied = await scheduler(store).applyDecisions(
    e,
    builds.map(([fp, extra]) => queueBuild(fp, e.version, extra)),
    now,
  );
  return applied.queued.map((b) => b.id);
}

/**
 * Runs one build of `build` that produces output `dist` (file digest `file`, output digest
 * `out`); with `head`, its output becomes the head of `build.dist`. Returns the build id.
 */
export async function buildWithOutput(
  store: StoreUnderTest,
  n: number,
  opts: { head?: boolean; job?: string } = {},
): Promise<number> {
  const job = opts.job ?? 'build';
  const [id] = await queued(store, sha(n), [
    [`fp${n}`, { job, concurrency: { group: job, limit: 1, supersede: true } }],
  ]);
  await queue(store).claimNextBuild('w', 2000 + n);
  const out = `out${n}`.padEnd(64, '0');
  await queue(store).finishBuild(
    id!,
    {
      result: passed({
        outputs: [
          { name: 'dist', digest: out, files: [{ path: 'a.tgz', digest: file(n), size: n }] },
        ],
      }),
      logBytes: 0,
      outputEvents: opts.head ? [outputEvent(`${job}.dist`, out, id!)] : [],
    },
    3000 + n,
  );
  if (opts.head) {
    const [e] = await scheduler(store).pendingEvents(1);
    await scheduler(store).applyDecisions(
      e!,
      [
        {
          kind: 'advance-head',
          source: `${job}.dist`,
          version: out,
          ref: null,
          origin: 'output',
          producedBy: id!,
          job: null,
          rule: 'new-version',
          detail: '',
        },
      ],
      3000 + n,
    );
  }
  return id!;
}

export const file = (n: number): string => `f${n}`.padEnd(64, '0');
