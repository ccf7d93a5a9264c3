import { createServer } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { formatReason } from '../../src/cli/format/build.js';
import { describeResult } from '../../src/cli/wait-for-build.js';
import type { Build } from '../../src/core/build.js';
import { git } from '../../src/testing/git.js';
import { readEvents } from '../server/helpers.js';
import { waitFor } from './serve-helpers.js';

/**
 * How a build ended is the last line of its log, with the reason said once — for every ending
 * that is not its steps' own: cancelled (running and queued), timed out, publish failed. Real
 * `startNightless` (SQLite, local executor, real steps, HTTP on 127.0.0.1). Lost and shutdown
 * endings need a process that dies: test/app/lifecycle-process.test.ts.
 */

const TOKEN = 'endings-token-0123456789';
let root: string;
let gate: string;
let closedPort: number;

beforeAll(async () => {
  process.env['NIGHTLESS_TOKEN'] = TOKEN;
  root = await mkdtemp(join(tmpdir(), 'nightless-endings-'));
  gate = join(root, 'gate');
  const work = join(root, 'work');
  git(root, 'init', '-q', '--initial-branch=main', work);
  await writeFile(join(work, 'README'), 'hello\n');
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', 'first');
  git(root, 'clone', '-q', '--bare', work, join(root, 'app.git'));
  // A port nothing listens on: the SFTP publish is refused at once.
  closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
  await writeFile(
    join(root, 'nightless.yaml'),
    `sources:
  app:
    git: ${JSON.stringify(join(root, 'app.git'))}
    branch: main
jobs:
  waits:
    inputs: [app]
    steps:
      - name: wait
        run: |
          echo waiting
          for i in $(seq 300); do [ -f ${JSON.stringify(gate)} ] && break; sleep 0.1; done
  slow:
    inputs: [app]
    timeout: 1s
    steps:
      - name: sleep
        run: sleep 20
  fails:
    inputs: [app]
    steps:
      - name: test
        run: exit 1
  publishes:
    inputs: [app]
    steps:
      - run: echo built > out.txt
    outputs:
      out: out.txt
    publish:
      - sftp:
          host: 127.0.0.1
          port: ${closedPort}
          user: ci
          path: /srv/builds
          password: not-a-secret
          host_key: "SHA256:AAAA"
          connect_timeout: 2s
`,
  );
});

afterAll(async () => {
  delete process.env['NIGHTLESS_TOKEN'];
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

function start(dataDir: string, slots: number): Promise<Nightless> {
  return startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, dataDir),
    host: '127.0.0.1',
    port: 0,
    slots,
    logger: pino({ level: process.env['DEBUG_NL'] ? 'debug' : 'silent' }),
    watchConfig: false,
  });
}

async function buildOf(nl: Nightless, job: string): Promise<Build> {
  const [b] = await nl.store.read.listBuilds({ job, limit: 1 });
  if (!b) throw new Error(`no build of ${job}`);
  return b;
}

/** System lines of the stored log file, and the same through the log API. */
async function systemLines(nl: Nightless, dataDir: string, id: number): Promise<string[]> {
  const stored = (await readFile(join(root, dataDir, 'logs', `${id}.log`), 'utf8'))
    .trimEnd()
    .split('\n')
    .map((l) => /^\d+ s (.*)$/.exec(l)?.[1])
    .filter((t): t is string => t !== undefined);
  const res = await fetch(`${nl.url}/api/builds/${id}/log`, { signal: AbortSignal.timeout(5000) });
  const viaApi = ((await res.json()) as { lines: Array<{ stream: string; text: string }> }).lines
    .filter((l) => l.stream === 'system')
    .map((l) => l.text);
  expect(viaApi).toEqual(stored);
  return stored;
}

describe('the log says how a build ended', () => {
  it('cancelled while running (live over SSE), timed out, failed, publish failed: one closing line each, reasons once', async () => {
    await rm(gate, { force: true });
    const nl = await start('data-run', 4);
    try {
      await waitFor(
        async () => (await buildOf(nl, 'waits').catch(() => null))?.state === 'running',
        20_000,
        () => 'waits never ran',
      );
      const waits = await buildOf(nl, 'waits');
      // Follow the running build's log live, then cancel it through the API.
      const follow = await fetch(`${nl.url}/api/builds/${waits.id}/log?follow=1`, {
        signal: AbortSignal.timeout(20_000),
      });
      const reading = readEvents(follow, (evs) => evs.some((e) => e.event === 'end'));
      await waitFor(
        async () =>
          (await systemLines(nl, 'data-run', waits.id).catch(() => [])).some((l) =>
            l.startsWith('==> step "wait"'),
          ),
        10_000,
        () => 'the step did not start',
      );
      const cancel = await fetch(`${nl.url}/api/builds/${waits.id}/cancel`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TOKEN}` },
        signal: AbortSignal.timeout(5000),
      });
      expect(cancel.status).toBe(200);
      const events = await reading;
      const live = events
        .filter((e) => e.event === 'line')
        .map((e) => e.data as { stream: string; text: string });
      expect(live.at(-1)).toEqual(
        expect.objectContaining({ stream: 'system', text: '!!! cancelled by api' }),
      );
      expect(events.at(-1)).toMatchObject({ event: 'end', data: { state: 'cancelled' } });

      await nl.engine.settled();
      const cancelled = await buildOf(nl, 'waits');
      expect(cancelled).toMatchObject({ state: 'cancelled', reason: 'cancelled by api' });
      expect((await systemLines(nl, 'data-run', cancelled.id)).slice(-2)).toEqual([
        expect.stringMatching(/^<== cancelled after \d/),
        '!!! cancelled by api',
      ]);
      expect(describeResult(cancelled)).toBe(`build #${cancelled.id} (waits) cancelled by api`);

      const slow = await buildOf(nl, 'slow');
      expect(slow).toMatchObject({
        state: 'error',
        reason: 'timeout: job "slow" timed out after 1s (in step "sleep")',
      });
      expect((await systemLines(nl, 'data-run', slow.id)).slice(-2)).toEqual([
        expect.stringMatching(/^<== timed out after \d/),
        '!!! error: timeout: job "slow" timed out after 1s (in step "sleep")',
      ]);
      expect(formatReason(slow)).toBe('timeout: job "slow" timed out after 1s (in step "sleep")');

      const fails = await buildOf(nl, 'fails');
      expect(fails).toMatchObject({
        state: 'failed',
        failedStep: 'test',
        reason: 'step "test" exited with code 1',
      });
      expect((await systemLines(nl, 'data-run', fails.id)).at(-1)).toBe(
        '!!! failed: step "test" exited with code 1',
      );
      // Not `step "test": step "test" exited with code 1`.
      expect(describeResult(fails)).toBe(
        `build #${fails.id} (fails) failed: step "test" exited with code 1`,
      );

      // The steps passed; the publish after them failed: the runner adds the closing line.
      const published = await buildOf(nl, 'publishes');
      expect(published.state).toBe('error');
      expect(published.failureClass).toBe('network');
      expect(published.reason).toMatch(/^network: sftp .*127\.0\.0\.1/);
      const publishLines = await systemLines(nl, 'data-run', published.id);
      expect(publishLines.at(-1)).toBe(`!!! error: ${published.reason}`);
      expect(publishLines.filter((l) => l.startsWith('!!!'))).toHaveLength(1);
      const detail = (await (
        await fetch(`${nl.url}/api/builds/${published.id}`, { signal: AbortSignal.timeout(5000) })
      ).json()) as { build: { logBytes: number; url: string } };
      // Port 0: the address is known only after listening, and the links use it.
      expect(detail.build.url).toBe(`${nl.url}/builds/${published.id}`);
      // The recorded size covers the closing line (the log API pages by it).
      expect(detail.build.logBytes).toBe(
        (await readFile(join(root, 'data-run', 'logs', `${published.id}.log`))).length,
      );
    } finally {
      await nl.stop();
    }
  });

  it('cancelled while queued: the log, empty until then, says so', async () => {
    const nl = await start('data-queued', 0);
    try {
      const queued = await waitFor(
        () => buildOf(nl, 'fails').catch(() => undefined),
        20_000,
        () => 'nothing was queued',
      );
      expect(queued.state).toBe('queued');
      const built = await nl.engine.cancel(queued.id, 'alice');
      expect(built).toMatchObject({ state: 'cancelled', reason: 'cancelled by alice' });
      expect(await systemLines(nl, 'data-queued', queued.id)).toEqual(['!!! cancelled by alice']);
    } finally {
      await nl.stop();
    }
  });
});
