import { afterEach, describe, expect, it } from 'vitest';
import type { ReportDef } from '../../src/core/pipeline.js';
import { ReportDispatcher } from '../../src/reporters/dispatcher.js';
import type { Store } from '../../src/store/ports.js';
import { startHarness, type Harness } from '../../src/testing/harness.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { CoverageExecutor, PUBLIC_URL, Receiver, SHA, quiet, waitFor, webhook } from './helpers.js';

/**
 * Reports of a change request's builds: commit statuses on the request's head commit at a local
 * fake forge (GitHub's API), and CloudEvents (here: the signed webhook) carrying the request's
 * number, title, author and target branch.
 */
const HEAD = SHA(42);

let forge: Receiver;
let qe: Receiver;
let h: Harness;
let dispatcher: ReportDispatcher;
afterEach(async () => {
  await dispatcher.stop();
  await h.stop();
  await forge.stop();
  await qe.stop();
});

async function setup(fork: boolean): Promise<Store> {
  forge = new Receiver((_r, res) => res.writeHead(201).end('{}'));
  qe = new Receiver();
  const forgeUrl = await forge.start();
  const qeUrl = await qe.start();
  const reports: ReportDef[] = [
    {
      kind: 'commit_status',
      provider: 'github',
      token: 'forge-token',
      baseUrl: forgeUrl,
      context: 'nightless',
      maxAttempts: 3,
      allowPrivate: true,
    },
    webhook(`${qeUrl}/ci`),
  ];
  const p = {
    ...pipeline({
      name: 'shop',
      sources: {
        app: git('main', {
          url: 'https://github.com/team/app.git',
          changeRequests: { targets: ['main'], checkout: 'head' },
        }),
      },
      jobs: { build: job({ inputs: ['app'] }) },
    }),
    reports,
  };
  h = await startHarness(p, { slots: 1, executor: new CoverageExecutor() });
  const store = h.store;
  dispatcher = new ReportDispatcher({
    outbox: store.outbox,
    deliveries: store.deliveries,
    reads: store.read,
    logger: quiet,
    bus: h.bus,
    publicUrl: () => PUBLIC_URL,
    buildUrl: (id) => `${PUBLIC_URL}/builds/${id}`,
    retry: { initialMs: 40, maxMs: 200 },
    pollMs: 200,
    requests: store.requests,
  });
  await dispatcher.sync(p, 0);
  await store.requests.recordRequest({
    source: 'app',
    number: 42,
    forge: 'github',
    title: 'Fix the parser',
    author: 'octo-stranger',
    target: 'main',
    headSha: HEAD,
    fork,
    state: 'open',
    url: 'https://github.com/team/app/pull/42',
    updatedAt: 1,
  });
  const event = h.sourceEvent('app', HEAD, { ref: 'pr/42' });
  if (event.kind !== 'source') throw new Error('not a source event');
  await h.engine.ingest({ ...event, request: { number: 42, target: 'main', closed: false } });
  await h.settle();
  return store;
}

describe("a change request's reports", () => {
  it('status on the head commit; events carry number, title, author, target', async () => {
    await setup(false);
    await waitFor('three statuses and three events', () => {
      return forge.requests.length === 3 && qe.requests.length === 3;
    });
    expect(forge.requests.map((r) => r.url)).toEqual(
      Array(3).fill(`/repos/team/app/statuses/${HEAD}`),
    );
    const events = qe.requests.map(
      (r) => JSON.parse(r.body) as { type: string; data: Record<string, unknown> },
    );
    expect(events.map((e) => e.type)).toEqual([
      'dev.nightless.build.queued',
      'dev.nightless.build.started',
      'dev.nightless.build.finished',
    ]);
    for (const e of events)
      expect(e.data['changeRequest']).toEqual({
        source: 'app',
        number: 42,
        title: 'Fix the parser',
        author: 'octo-stranger',
        target: 'main',
        headSha: HEAD,
        fork: false,
        url: 'https://github.com/team/app/pull/42',
        trusted: true,
      });
    expect(events[0]?.data['inputs']).toEqual([
      expect.objectContaining({ source: 'app', version: HEAD, ref: 'pr/42' }),
    ]);
  });

  it("an unapproved fork's builds: commit statuses only, no webhook or bus event", async () => {
    await setup(true);
    await waitFor('three statuses', () => forge.requests.length === 3);
    await dispatcher.drained();
    expect(forge.requests.map((r) => r.url)).toEqual(
      Array(3).fill(`/repos/team/app/statuses/${HEAD}`),
    );
    expect(qe.requests).toEqual([]);
  });
});
