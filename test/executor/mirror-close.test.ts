import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { GitMirrors } from '../../src/executor/git-mirror.js';

/**
 * Stopping a server kills the git runs its mirrors have in flight and waits for them
 * (`GitMirrors.runs`): a start-early fetch of a remote that accepts and never answers would
 * otherwise run on (up to its stall timeout) and write into a data directory being removed.
 */
let silent: Server;
let port: number;
const sockets = new Set<Socket>();
let dir: string;

beforeEach(async () => {
  silent = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  port = (silent.address() as { port: number }).port;
  dir = await mkdtemp(join(tmpdir(), 'nightless-mirror-close-'));
});

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await new Promise((resolve) => silent.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** The git processes (and their helpers) talking to the silent remote. */
function gitRuns(): string[] {
  const ps = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' });
  return ps.split('\n').filter((l) => l.includes(`127.0.0.1:${port}/`) && !l.includes('ps -eo'));
}

async function until(what: string, ok: () => boolean, ms = 20_000): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    if (ok()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it('kills a start-early fetch of an unanswering remote and waits for it, so the dir can go', async () => {
  const mirrors = new GitMirrors(join(dir, 'git'));
  mirrors.prefetch(`http://127.0.0.1:${port}/app.git`, 'a'.repeat(40));
  await until('git to connect to the silent remote', () => sockets.size > 0);
  expect(gitRuns().length).toBeGreaterThan(0);

  const started = Date.now();
  expect(await mirrors.close()).toBe(0);
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(gitRuns()).toEqual([]);
  // No retries: nothing writes into the directory any more.
  await rm(join(dir, 'git'), { recursive: true });
  expect(await readdir(dir)).toEqual([]);
  // A run asked for after close fails at once instead of starting git.
  const after = await mirrors.runGit(['--version'], { timeoutMs: 5_000 });
  expect(after.exitCode).toBeNull();
}, 60_000);
