import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, notBuilt, spawnServe, urlOf, waitFor, type BuildsBody } from './serve-helpers.js';

/** `serve --bus` as a user runs it (the compiled CLI; `npm test` builds it first). */
describe.skipIf(notBuilt)('nightless serve --bus (real process)', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-serve-bus-'));
    await writeFile(
      join(dir, 'nightless.yaml'),
      'pipeline: bus-test\njobs:\n  hello:\n    steps:\n      - run: "true"\n',
    );
  });
  afterAll(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));

  it('refuses a --bus that is not an amqp URL, before starting', async () => {
    const s = spawnServe(['-d', join(dir, 'd1'), '--bus', 'http://mq.example.com'], dir);
    expect(await s.exited).not.toBe(0);
    expect(s.stderr()).toMatch(/--bus.*must start with amqp:\/\/ or amqps:\/\//);
  });

  it('builds with the broker unreachable (the bus only wakes) and names it without the password', async () => {
    const s = spawnServe(
      ['-d', join(dir, 'd2'), '--slots', '1'],
      dir,
      // Nothing listens on port 1; NIGHTLESS_BUS_URL is what --bus defaults to.
      { NIGHTLESS_BUS_URL: 'amqp://nightless:hunter2@127.0.0.1:1/' },
    );
    try {
      const url = await urlOf(s);
      await waitFor(
        async () => {
          const body = await api<BuildsBody>(`${url}/api/builds`);
          return body.builds.some((b) => b.state === 'passed');
        },
        20_000,
        () => `no passed build; stderr: ${s.stderr()}`,
      );
      const logs = s.stdout() + s.stderr();
      expect(logs).toContain('bus to other replicas down');
      expect(logs).toContain('127.0.0.1:1');
      expect(logs).not.toContain('hunter2');
    } finally {
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });
});
