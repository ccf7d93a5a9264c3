import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { lsRemoteAll } from '../../../src/ingest/poll/git-ls-remote.js';

/**
 * Issue 11 point 13: a failed `git ls-remote` keeps its cause. Real git, a real wrong path, and
 * a real socket that accepts and never answers.
 */
let dir: string;
let silent: Server;
let silentPort = 0;
let trickle: Server;
let tricklePort = 0;
const sockets: Socket[] = [];
const timers: NodeJS.Timeout[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-ls-remote-'));
  silent = createServer((s) => void sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  silentPort = (silent.address() as { port: number }).port;
  // Starts a smart-HTTP answer whose first packet announces 65,520 bytes, then sends one byte
  // of it every 100 ms: fast enough for git's low-speed limit, never a whole packet to parse.
  trickle = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    s.write(
      'HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n' +
        'Content-Length: 1000000\r\n\r\nfff0',
    );
    timers.push(setInterval(() => s.write('a'), 100));
  });
  await new Promise<void>((r) => trickle.listen(0, '127.0.0.1', r));
  tricklePort = (trickle.address() as { port: number }).port;
});
afterAll(async () => {
  for (const t of timers) clearInterval(t);
  for (const s of sockets) s.destroy();
  await new Promise((r) => silent.close(r));
  await new Promise((r) => trickle.close(r));
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

const failure = (p: Promise<unknown>) =>
  p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => (e as Error).message,
  );

describe('git ls-remote failures', () => {
  it('a wrong repository path says what git said, naming the command, not its advice', async () => {
    const path = join(dir, 'no-such-repo');
    const message = await failure(
      lsRemoteAll(path, { connectTimeoutMs: 5_000, stallTimeoutMs: 5_000 }),
    );
    expect(message).toBe(
      `git ls-remote ${path} failed (exit code 128): fatal: '${path}' does not appear to be a git repository; fatal: Could not read from remote repository.`,
    );
    expect(message).not.toMatch(/and the repository exists/);
    expect(message).not.toMatch(/git -c/);
  });

  it('a host that never answers fails fast, naming `git ls-remote` and the URL', async () => {
    const url = `http://127.0.0.1:${silentPort}/app.git`;
    const started = Date.now();
    const message = await failure(
      lsRemoteAll(url, { connectTimeoutMs: 500, stallTimeoutMs: 1_000 }),
    );
    // git's own low-speed limit (the stall time, 1 s) or connect + stall, whichever comes first.
    expect(message).toMatch(
      new RegExp(
        `^git ls-remote ${url.replace(/[.]/g, '\\.')} (timed out after 1500 ms|failed \\(exit code 128\\): fatal: unable to access .*: Operation too slow)`,
      ),
    );
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('the hard timeout names `git ls-remote`, not `git -c`', async () => {
    const url = `http://127.0.0.1:${tricklePort}/app.git`;
    const message = await failure(
      lsRemoteAll(url, { connectTimeoutMs: 500, stallTimeoutMs: 1_000 }),
    );
    expect(message).toBe(`git ls-remote ${url} timed out after 1500 ms`);
  });

  it('never shows the credentials of a URL', async () => {
    const url = `http://ci:hunter2-token@127.0.0.1:1/app.git`;
    const message = await failure(
      lsRemoteAll(url, { connectTimeoutMs: 2_000, stallTimeoutMs: 3_000 }),
    );
    expect(message).toMatch(
      /^git ls-remote http:\/\/127\.0\.0\.1:1\/app\.git failed \(exit code 128\): fatal: unable to access/,
    );
    expect(message).not.toContain('hunter2-token');
  });
});
