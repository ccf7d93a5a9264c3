import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { FallbackPoller, type PollReport } from '../../../src/ingest/poll/fallback-poller.js';
import type { Store } from '../../../src/store/ports.js';
import { pipeline } from '../../../src/testing/pipeline-builder.js';
import { openSqliteStore } from '../../../src/store/sqlite/open-sqlite-store.js';

/** A resource server that answers after `delayMs` and remembers the most requests it held at once. */
async function slowServer(delayMs: number) {
  let open = 0;
  let most = 0;
  const server: Server = createServer((req, res) => {
    open += 1;
    most = Math.max(most, open);
    setTimeout(() => {
      open -= 1;
      res.writeHead(200, { etag: `"${req.url ?? ''}"` });
      res.end('content');
    }, delayMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, most: () => most, close: () => new Promise((r) => server.close(r)) };
}

describe('fallback poller: many sources due at once', () => {
  let dir: string;
  let store: Store | undefined;
  let poller: FallbackPoller | undefined;
  let close: (() => Promise<unknown>) | undefined;
  afterEach(async () => {
    await poller?.stop();
    await store?.close();
    await close?.();
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  /** Http sources `names` on `server`, in a fresh store (no head yet), and their pipeline. */
  async function httpSources(server: { url: string }, names: readonly string[]) {
    dir = await mkdtemp(join(tmpdir(), 'nightless-poll-width-'));
    const pipe = pipeline({
      sources: Object.fromEntries(
        names.map((name) => [
          name,
          {
            kind: 'http',
            url: `${server.url}/${name}`,
            headers: {},
            webhookSecret: null,
            fallbackPollMs: 600_000,
            quietPeriodMs: null,
            maxBytes: 1024,
            allowPrivate: true, // the server is on 127.0.0.1
          },
        ]),
      ),
      jobs: {},
    });
    store = await openSqliteStore({ path: join(dir, 'db') });
    await store.sources.syncSources(
      names.map((name) => ({ name, kind: 'http', url: `${server.url}/${name}` })),
    );
    return { pipe, sources: store.sources };
  }

  /** 24 http sources on `server`, each checked once at a fresh poller's start (no head yet). */
  async function firstChecks(
    server: { url: string },
    o: { maxConcurrentChecks: number; slowCheckMs?: number },
  ): Promise<{ reports: PollReport[]; ingested: number }> {
    const names = Array.from({ length: 24 }, (_, i) => `r${i}`);
    const { pipe, sources } = await httpSources(server, names);
    const reports: PollReport[] = [];
    let ingested = 0;
    poller = new FallbackPoller({
      store: sources,
      ingest: (events) => {
        ingested += events.length;
        return Promise.resolve();
      },
      pipeline: () => pipe,
      logger: pino({ level: 'silent' }),
      ...o,
      onPoll: (r) => reports.push(r),
    });
    await poller.start();
    for (let i = 0; i < 400 && reports.length < names.length; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect(reports).toHaveLength(names.length);
    expect(reports.every((r) => r.ok && r.newVersions === 1 && !r.missed)).toBe(true);
    return { reports, ingested };
  }

  it('checks them one after the other while each answers within slowCheckMs', async () => {
    const server = await slowServer(10);
    close = server.close;
    const { ingested } = await firstChecks(server, { maxConcurrentChecks: 4, slowCheckMs: 5000 });
    expect(ingested).toBe(24);
    expect(server.most()).toBe(1);
  });

  it('logs a check the store failed to record, and checks the others', async () => {
    const server = await slowServer(1);
    close = server.close;
    const { pipe, sources } = await httpSources(server, ['a', 'b', 'c']);
    type Line = { msg: string; source?: string; error?: string };
    const lines: Line[] = [];
    poller = new FallbackPoller({
      store: {
        ...sources,
        sourceHeads: (name) => sources.sourceHeads(name),
        recordPoll: (name, poll) =>
          name === 'b'
            ? Promise.reject(new Error('database is locked'))
            : sources.recordPoll(name, poll),
      },
      ingest: () => Promise.resolve(),
      pipeline: () => pipe,
      logger: pino(
        { level: 'error' },
        { write: (l: string) => void lines.push(JSON.parse(l) as Line) },
      ),
    });
    const outcomes = await poller.pollAll();
    expect(outcomes.map((o) => o.source).sort()).toEqual(['a', 'c']);
    expect(lines).toEqual([
      expect.objectContaining({
        msg: 'fallback poll could not record a check',
        source: 'b',
        error: 'database is locked',
      }),
    ]);
  });

  it('checks more at once while the running ones wait, a few at most', async () => {
    const server = await slowServer(300);
    close = server.close;
    const started = Date.now();
    const { ingested } = await firstChecks(server, { maxConcurrentChecks: 4, slowCheckMs: 50 });
    expect(ingested).toBe(24);
    expect(server.most()).toBe(4);
    // Six waves of four, not 24 checks of 300 ms one after the other (7.2 s).
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
