import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Build } from '../../src/core/build.js';
import type { ChangeRequest } from '../../src/core/change-request.js';
import { BuildRunner } from '../../src/runner/local/build-runner.js';
import type { TrustLookup } from '../../src/runner/build-trust.js';
import type { Store } from '../../src/store/ports.js';
import { StoreUnavailableError } from '../../src/store/ports/unavailable.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { ScriptedExecutor } from '../../src/testing/scripted-executor.js';
import { input, push, queueBuild, sha } from '../conformance/store/fixtures.js';

const p = pipeline({ sources: { app: git('main') }, jobs: { build: job({ inputs: ['app'] }) } });

/**
 * A build claimed just before the database goes away reads what it needs (change-request trust,
 * merge target, upstream output files) before its first step. Those reads wait for the database
 * instead of ending the build `error: internal` — a restart of PostgreSQL under load once turned
 * one build of 240 into an error this way (test/replicas/pg-restart.test.ts).
 */
describe('a build whose pre-run reads meet an unavailable database', () => {
  let store: Store;
  let runner: BuildRunner | undefined;

  afterEach(async () => {
    await runner?.stop('requeue');
    await store.close();
  });

  async function run(requests: TrustLookup) {
    store = await openSqliteStore({ path: ':memory:' });
    await store.sources.syncSources([{ name: 'app', kind: 'git', url: '/srv/app.git' }]);
    // A change request's head: the runner asks the store about the request before running it.
    const { id: eventId } = await store.inbox.appendEvent(push(sha(1), null, 'pr/7'));
    const e = (await store.scheduler.pendingEvents(10)).find((x) => x.id === eventId);
    if (e?.kind !== 'source') throw new Error('expected a source event');
    const inputs = [{ ...input(e.version, e.id), ref: 'pr/7' }];
    await store.scheduler.applyDecisions(e, [queueBuild('fp1', e.version, { inputs })], 2000);
    const executor = new ScriptedExecutor();
    const finished: Build[] = [];
    const warnings: string[] = [];
    runner = new BuildRunner({
      queue: store.queue,
      executor,
      pipeline: () => p,
      slots: 1,
      worker: 'local',
      now: Date.now,
      logger: pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) }),
      secret: () => undefined,
      requests,
      onStarted: () => undefined,
      onLog: () => undefined,
      onFinished: (b) => void finished.push(b),
    });
    runner.wake();
    await runner.idle();
    return { executor, finished, warnings };
  }

  const request: ChangeRequest = {
    source: 'app',
    number: 7,
    forge: 'github',
    title: 'a change',
    author: 'someone',
    target: 'main',
    headSha: sha(1),
    fork: false,
    state: 'open',
    url: null,
    updatedAt: 1000,
  };

  it('waits for the database and runs the build once it answers', async () => {
    let calls = 0;
    const { executor, finished, warnings } = await run({
      getRequest: () => {
        calls += 1;
        return calls <= 2
          ? Promise.reject(new StoreUnavailableError('the database is unavailable'))
          : Promise.resolve(request);
      },
      approvalOf: () => Promise.resolve(null),
    });
    expect(finished.map((b) => b.state)).toEqual(['passed']);
    expect(executor.runs).toHaveLength(1);
    expect(calls).toBeGreaterThan(2);
    expect(warnings.join('\n')).toMatch(/starting the build once it is back/);
  });

  it('still ends the build as an internal error when the store fails for another reason', async () => {
    const { executor, finished } = await run({
      getRequest: () => Promise.reject(new Error('column "fork" does not exist')),
      approvalOf: () => Promise.resolve(null),
    });
    expect(finished.map((b) => [b.state, b.reason])).toEqual([
      ['error', 'internal: column "fork" does not exist'],
    ]);
    expect(executor.runs).toHaveLength(0);
  });
});
