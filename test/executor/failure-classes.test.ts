import { execFileSync } from 'node:child_process';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { failureClassOf } from '../../src/core/failure-class.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import type { RunResult } from '../../src/executor/port.js';
import { gitInput, job, observer, spec, step, tempDirs } from './helpers.js';

/**
 * Each failure class through the real path: real git against real (misbehaving) sockets, real
 * step processes, a real full file system. Limits are short so the bound "connect + stall" is
 * what the test asserts, with slack for a loaded machine.
 */
const tmp = tempDirs();
const servers: Server[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
  await tmp.cleanup();
});

const LIMITS = { connectTimeoutMs: 1_000, stallTimeoutMs: 1_000 };
const SLACK_MS = 4_000;
const never = new AbortController().signal;

async function executor(dataDir?: string): Promise<LocalExecutor> {
  const dir = dataDir ?? (await tmp.make());
  const mirrors = new GitMirrors(join(dir, 'git'), { network: LIMITS });
  return new LocalExecutor({ dataDir: dir, artifacts: new ContentStore(dir), mirrors });
}

/** A TCP server that accepts and then does `onConnection` (by default: nothing, ever). */
async function listener(onConnection: (s: Socket) => void = () => undefined): Promise<number> {
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => undefined);
    onConnection(s);
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

async function runWithGitInput(url: string): Promise<{ result: RunResult; ms: number }> {
  const ex = await executor();
  const started = Date.now();
  const result = await ex.run(
    spec(job([step('never', 'exit 0')]), { inputs: [gitInput('app', url, 'a'.repeat(40))] }),
    observer(),
    never,
  );
  return { result, ms: Date.now() - started };
}

describe('network: git remotes that misbehave end as network failures within connect + stall', () => {
  it('an http remote that accepts and never answers', async () => {
    const port = await listener();
    const { result, ms } = await runWithGitInput(`http://127.0.0.1:${port}/app.git`);
    expect(result).toMatchObject({ state: 'error', code: 'network' });
    expect(failureClassOf(result)).toBe('network');
    expect(ms).toBeLessThan(LIMITS.connectTimeoutMs + LIMITS.stallTimeoutMs + SLACK_MS);
  });

  it('a git:// remote that accepts and never answers (no low-speed limit: the stall watchdog)', async () => {
    const port = await listener();
    const { result, ms } = await runWithGitInput(`git://127.0.0.1:${port}/app.git`);
    expect(result).toMatchObject({ state: 'error', code: 'network' });
    if (result.state === 'error') expect(result.reason).toContain('stalled');
    expect(ms).toBeLessThan(LIMITS.connectTimeoutMs + LIMITS.stallTimeoutMs + SLACK_MS);
  });

  it('an http remote that starts answering and then stalls mid-transfer', async () => {
    const port = await listener((s) => {
      s.once('data', () => {
        s.write(
          'HTTP/1.1 200 OK\r\nContent-Type: application/x-git-upload-pack-advertisement\r\n' +
            'Content-Length: 4096\r\n\r\n001e# service=git-upload-pack\n0000',
        );
      });
    });
    const { result, ms } = await runWithGitInput(`http://127.0.0.1:${port}/app.git`);
    expect(result).toMatchObject({ state: 'error', code: 'network' });
    expect(ms).toBeLessThan(LIMITS.connectTimeoutMs + LIMITS.stallTimeoutMs + SLACK_MS);
  });

  it('a remote that refuses the connection', async () => {
    const port = await listener();
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const { result } = await runWithGitInput(`http://127.0.0.1:${port}/app.git`);
    expect(result).toMatchObject({ state: 'error', code: 'network' });
    if (result.state === 'error') expect(result.reason).toMatch(/connect/i);
  });

  it('a repository that does not exist is not a network failure', async () => {
    const missing = join(await tmp.make(), 'nope.git');
    const { result } = await runWithGitInput(missing);
    expect(result).toMatchObject({ state: 'error', code: 'checkout' });
    expect(failureClassOf(result)).toBe('infrastructure');
  });
});

describe('steps', () => {
  it('a step that exits 3 is the user’s failure', async () => {
    const ex = await executor();
    const result = await ex.run(spec(job([step('test', 'exit 3')])), observer(), never);
    expect(result).toMatchObject({ state: 'failed', exitCode: 3 });
    expect(failureClassOf(result)).toBe('user');
  });

  it('a step process killed by SIGKILL (OOM killer, operator) is infrastructure', async () => {
    const ex = await executor();
    const result = await ex.run(spec(job([step('test', 'kill -9 $$')])), observer(), never);
    expect(result).toMatchObject({ state: 'failed', signal: 'SIGKILL' });
    expect(failureClassOf(result)).toBe('infrastructure');
  });

  it('a step that runs past its timeout is a timeout', async () => {
    const ex = await executor();
    const result = await ex.run(
      spec(job([step('slow', 'sleep 5', { timeoutMs: 300 })])),
      observer(),
      never,
    );
    expect(result).toMatchObject({ state: 'error', code: 'step-timeout' });
    expect(failureClassOf(result)).toBe('timeout');
  });
});

/** A 1 MiB tmpfs, when this process may mount one (root in a container usually may). */
function tinyTmpfs(dir: string): string | null {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir], { stdio: 'pipe' });
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0] ?? 'mount failed';
  }
}

describe('disk', () => {
  it('a step that fails because the file system filled up is infrastructure (disk)', async (ctx) => {
    const dir = await tmp.make();
    const why = tinyTmpfs(dir);
    if (why !== null) {
      if (process.env.CI === 'true') throw new Error(`cannot mount a tmpfs: ${why}`);
      console.warn(`SKIPPED full-disk test: cannot mount a tmpfs (${why})`);
      ctx.skip();
      return;
    }
    try {
      const ex = await executor(dir);
      const result = await ex.run(
        spec(job([step('fill', 'head -c 4194304 /dev/zero > big')])),
        observer(),
        never,
      );
      expect(result).toMatchObject({ state: 'error', code: 'disk' });
      expect(failureClassOf(result)).toBe('infrastructure');
    } finally {
      execFileSync('umount', ['-l', dir]);
    }
  });
});
