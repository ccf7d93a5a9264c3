import { CloudEvent } from 'cloudevents';
import { describe, expect, it } from 'vitest';
import type { Build } from '../../src/core/build.js';
import { routingKey, toCloudEvent } from '../../src/reporters/cloudevent.js';
import { statusOf } from '../../src/reporters/commit-status/status-of-build.js';
import { targetKey } from '../../src/reporters/report-target.js';
import type { OutboxRecord } from '../../src/store/ports.js';

const build: Build = {
  id: 42,
  job: 'build',
  state: 'passed',
  fingerprint: 'f'.repeat(64),
  inputs: [{ source: 'app', version: 'a'.repeat(40), origin: 'webhook', eventId: 7, ref: 'main' }],
  cause: { kind: 'version', source: 'app', version: 'a'.repeat(40), eventId: 7 },
  forced: false,
  queuedAt: Date.UTC(2025, 2, 1, 14, 0, 0),
  startedAt: Date.UTC(2025, 2, 1, 14, 0, 1),
  finishedAt: Date.UTC(2025, 2, 1, 14, 0, 43),
  failedStep: null,
  reason: null,
  failureClass: null,
  relatedBuild: null,
  exitCode: null,
  coverage: { lines: 81.2, branches: 64.5, linesDelta: 1.3, branchesDelta: -0.4 },
  attempt: 1,
  concurrencyGroup: 'build@main',
};
const record: OutboxRecord = {
  id: 1234,
  buildId: 42,
  type: 'finished',
  build,
  createdAt: Date.UTC(2025, 2, 1, 14, 0, 43),
};
const ctx = {
  pipeline: 'shop',
  publicUrl: 'https://ci.example.com',
  buildUrl: (id: number) => `https://ci.example.com/builds/${id}`,
  outputs: [
    {
      name: 'dist',
      digest: 'd'.repeat(64),
      files: [{ path: 'app-1.0.tgz', digest: 'e'.repeat(64), size: 1024 }],
    },
  ],
};

describe('build CloudEvents', () => {
  it('is a valid CloudEvents 1.0 structured event with every attribute the schema names', () => {
    const e = toCloudEvent(record, ctx);
    const parsed = new CloudEvent(JSON.parse(JSON.stringify(e)) as never, true);
    expect(parsed.validate()).toBe(true);
    expect(e).toMatchObject({
      specversion: '1.0',
      id: 'shop:1234',
      source: 'https://ci.example.com/pipelines/shop',
      type: 'dev.nightless.build.finished',
      subject: 'build/42',
      time: '2025-03-01T14:00:43.000Z',
      datacontenttype: 'application/json',
    });
    expect(e.data).toEqual({
      pipeline: 'shop',
      job: 'build',
      build: { id: 42, url: 'https://ci.example.com/builds/42', attempt: 1, forced: false },
      fingerprint: 'f'.repeat(64),
      inputs: [
        { source: 'app', version: 'a'.repeat(40), ref: 'main', origin: 'webhook', eventId: 7 },
      ],
      state: 'passed',
      result: 'passed',
      reason: null,
      failedStep: null,
      failureClass: null,
      retryOf: null,
      exitCode: null,
      relatedBuild: null,
      queuedAt: '2025-03-01T14:00:00.000Z',
      startedAt: '2025-03-01T14:00:01.000Z',
      finishedAt: '2025-03-01T14:00:43.000Z',
      durationMs: 42_000,
      coverage: { lines: 81.2, branches: 64.5, linesDelta: 1.3, branchesDelta: -0.4 },
      artifacts: [
        {
          output: 'dist',
          digest: 'd'.repeat(64),
          files: [{ path: 'app-1.0.tgz', digest: 'e'.repeat(64), size: 1024 }],
        },
      ],
    });
    expect(routingKey('shop', record)).toBe('shop.build.finished');
  });

  it('has the same id every time the row is sent (consumers de-duplicate on it)', () => {
    expect(toCloudEvent(record, ctx).id).toBe(toCloudEvent(record, ctx).id);
  });

  it('carries no result and no artifacts before the build finished', () => {
    const queued = toCloudEvent(
      {
        ...record,
        type: 'queued',
        build: { ...build, state: 'queued', startedAt: null, finishedAt: null },
      },
      ctx,
    );
    expect(queued.data).toMatchObject({ result: null, durationMs: null, artifacts: [] });
    expect(queued.type).toBe('dev.nightless.build.queued');
  });
});

describe('commit status text', () => {
  it('includes the duration and the coverage with its delta', () => {
    expect(statusOf('finished', build, null)).toEqual({
      state: 'success',
      description: 'passed in 42s · lines 81.2% (+1.3)',
    });
  });

  it('gives a skip the identical build’s result', () => {
    const skip: Build = {
      ...build,
      id: 43,
      state: 'skipped',
      relatedBuild: 42,
      reason: 'identical to build #42',
    };
    const failed: Build = { ...build, state: 'failed', failedStep: 'test' };
    expect(statusOf('skipped', skip, failed)).toEqual({
      state: 'failure',
      description: 'identical to build #42: failed at test in 42s · lines 81.2% (+1.3)',
    });
  });
});

describe('report target keys', () => {
  it('never contain a secret and survive its rotation', () => {
    const a = targetKey(
      { kind: 'amqp', url: 'amqp://ci:s3cret@mq.example.com', exchange: 'ci' },
      0,
    );
    const b = targetKey(
      { kind: 'amqp', url: 'amqp://ci:rotated@mq.example.com', exchange: 'ci' },
      0,
    );
    expect(a).toMatch(/^amqp:0:[0-9a-f]{12}$/);
    expect(a).toBe(b);
    const hook = {
      kind: 'webhook' as const,
      url: 'https://qe.example.com/ci',
      secret: 'one',
      connectTimeoutMs: 3000,
      timeoutMs: 10_000,
      maxAttempts: 8,
      followRedirects: false,
      allowPrivate: false,
    };
    expect(targetKey(hook, 1)).toBe(targetKey({ ...hook, secret: 'two' }, 1));
    expect(targetKey(hook, 1)).not.toContain('one');
  });
});
