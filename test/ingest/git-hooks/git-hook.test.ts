import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { installHook, uninstallHook } from '../../../src/ingest/git-hooks/install-hook.js';
import { runCommand } from '../../../src/ingest/poll/run-command.js';
import { git as gitSource, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { TOKEN, startWebhookEnv, type WebhookEnv } from '../helpers.js';

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'nightless test',
  GIT_AUTHOR_EMAIL: 'test@nightless.invalid',
  GIT_COMMITTER_NAME: 'nightless test',
  GIT_COMMITTER_EMAIL: 'test@nightless.invalid',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: tmpdir(),
};

async function git(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const res = await runCommand('git', args, {
    cwd,
    timeoutMs: 20_000,
    env: { ...GIT_ENV, ...env },
  });
  if (res.code !== 0) throw new Error(`git ${args.join(' ')}: ${res.stderr}`);
  return res.stdout.trim();
}

let dir: string;
let bare: string;
let clone: string;
let env: WebhookEnv | null = null;
let url: string;
let tokenFile: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-hook-'));
  bare = join(dir, 'app.git');
  clone = join(dir, 'work');
  tokenFile = join(dir, 'token');
  await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
  await git(dir, ['init', '--quiet', '--bare', '--initial-branch=main', bare]);
  await git(dir, ['clone', '--quiet', bare, clone]);
  await git(clone, ['checkout', '--quiet', '-B', 'main']);
  await commit('first');
});

afterEach(async () => {
  await env?.close();
  env = null;
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

async function commit(message: string): Promise<string> {
  await writeFile(join(clone, 'file.txt'), `${message}\n`);
  await git(clone, ['add', 'file.txt']);
  await git(clone, ['commit', '--quiet', '-m', message]);
  return git(clone, ['rev-parse', 'HEAD']);
}

async function startServer(repoUrl: string, branches: string | string[] = 'main'): Promise<void> {
  env = await startWebhookEnv(
    pipeline({
      sources: { app: gitSource(branches, { url: repoUrl }) },
      jobs: { build: job({ inputs: ['app'] }) },
    }),
  );
  url = await env.app.listen({ host: '127.0.0.1', port: 0 });
}

/** Waits for the hook's background notification to reach the inbox and be decided. */
async function waitForHead(version: string, ref = 'main'): Promise<void> {
  const deadline = Date.now() + 8_000;
  while (Date.now() < deadline) {
    await env!.h.decided();
    const heads = await env!.h.store.sources.sourceHeads('app');
    if (heads.some((h) => h.version === version && h.ref === ref && h.origin === 'hook')) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `no hook event for ${ref}@${version}; heads: ${JSON.stringify(await env!.h.store.sources.sourceHeads('app'))}`,
  );
}

async function timedPush(
  args: string[] = ['push', '--quiet', 'origin', 'main'],
  extraEnv: NodeJS.ProcessEnv = {},
): Promise<number> {
  const t0 = performance.now();
  await git(clone, args, extraEnv);
  return performance.now() - t0;
}

describe('nightless hook install (bare repository, post-receive)', () => {
  it('turns a real git push into a hook event', async () => {
    await startServer(bare);
    const r = await installHook(bare, { serverUrl: url, tokenFile });
    expect(r).toMatchObject({ bare: true, hook: 'post-receive', chained: false, updated: false });
    expect((await stat(r.path)).mode & 0o111).not.toBe(0);
    const sha = await commit('second');
    await timedPush();
    await waitForHead(sha);
  });

  it('sends unusual branch names as data, and tags when the source follows them', async () => {
    await startServer(`file://${bare}`, ['**', 'tags/v*']);
    await installHook(bare, { serverUrl: url, tokenFile });
    const sha = await commit('odd');
    // Were a ref name ever evaluated by a shell, `pwned` would appear in the hook's directory.
    for (const branch of [
      'feature/$(id)',
      'x/$(touch${IFS}pwned)`touch${IFS}pwned`',
      'fix/"quoted"-ünï✓',
      `long/${'y'.repeat(240)}`,
    ]) {
      await git(clone, ['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
      await waitForHead(sha, branch);
    }
    await git(clone, ['tag', 'v1.0']);
    await git(clone, ['push', '--quiet', 'origin', 'v1.0']);
    await waitForHead(sha, 'tags/v1.0');
    expect(await stat(join(bare, 'pwned')).catch(() => null)).toBeNull();
  });

  it('uses node when curl is not there', async () => {
    await startServer(bare);
    await installHook(bare, { serverUrl: url, tokenFile });
    const sha = await commit('via node');
    await timedPush(undefined, { NIGHTLESS_HOOK_NO_CURL: '1' });
    await waitForHead(sha);
  });

  it('never fails or hangs a push when the server is down or stuck', async () => {
    // A port nothing listens on, then a peer that accepts and never answers.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const sockets: Socket[] = [];
    const stuck: Server = createServer((s) => sockets.push(s));
    await new Promise<void>((r) => stuck.listen(0, '127.0.0.1', r));
    try {
      for (const server of [
        `http://127.0.0.1:${closedPort}`,
        `http://127.0.0.1:${(stuck.address() as { port: number }).port}`,
      ]) {
        await installHook(bare, { serverUrl: server, tokenFile });
        await commit(`to ${server}`);
        for (const noCurl of ['', '1']) {
          const ms = await timedPush(undefined, { NIGHTLESS_HOOK_NO_CURL: noCurl });
          expect(ms).toBeLessThan(3_000);
          await commit(`again ${noCurl}`);
        }
      }
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => stuck.close(() => r()));
    }
  });

  it('rejects a notification without the right token (nothing stored, the push still succeeds)', async () => {
    await startServer(bare);
    await writeFile(tokenFile, 'not-the-token\n');
    await installHook(bare, { serverUrl: url, tokenFile });
    await commit('unauthenticated');
    await timedPush();
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await env!.received('app')).toBe(0);
    // NIGHTLESS_TOKEN in the pusher's environment wins over the file.
    const sha = await commit('with env token');
    await timedPush(undefined, { NIGHTLESS_TOKEN: TOKEN });
    await waitForHead(sha);
  });

  it('chains an existing hook, keeps calling it, and restores it on uninstall', async () => {
    await startServer(bare);
    const seen = join(dir, 'seen.txt');
    const own = join(bare, 'hooks', 'post-receive');
    const original = `#!/bin/sh\ncat >> '${seen}'\nexit 3\n`;
    await writeFile(own, original);
    await chmod(own, 0o755);
    const first = await installHook(bare, { serverUrl: url, tokenFile });
    expect(first.chained).toBe(true);
    const again = await installHook(bare, { serverUrl: url, tokenFile });
    expect(again).toMatchObject({ chained: true, updated: true });
    expect(await readFile(`${own}.pre-nightless`, 'utf8')).toBe(original);

    const sha = await commit('chained');
    await timedPush();
    await waitForHead(sha);
    expect(await readFile(seen, 'utf8')).toMatch(
      new RegExp(`^[0-9a-f]{40} ${sha} refs/heads/main\\n$`),
    );

    const un = await uninstallHook(bare);
    expect(un).toMatchObject({ removed: true, restored: true });
    expect(await readFile(own, 'utf8')).toBe(original);
    expect(await stat(`${own}.pre-nightless`).catch(() => null)).toBeNull();
    expect(await uninstallHook(bare)).toMatchObject({ removed: false });
  });
});

describe('nightless hook install (working repository, reference-transaction)', () => {
  it('notifies on commits, and a chained hook still vetoes in "prepared"', async () => {
    await startServer(clone);
    const hooks = join(clone, '.git', 'hooks');
    // A pre-existing hook that refuses transactions while a flag file exists.
    const flag = join(dir, 'veto');
    await writeFile(
      join(hooks, 'reference-transaction'),
      `#!/bin/sh\ncat >/dev/null\nif [ "$1" = prepared ] && [ -e '${flag}' ]; then exit 1; fi\nexit 0\n`,
    );
    await chmod(join(hooks, 'reference-transaction'), 0o755);
    const r = await installHook(clone, { serverUrl: url, tokenFile });
    expect(r).toMatchObject({ bare: false, hook: 'reference-transaction', chained: true });

    const sha = await commit('local work');
    await waitForHead(sha);

    await writeFile(flag, '');
    await expect(commit('vetoed')).rejects.toThrow();
    await rm(flag);
    expect(await git(clone, ['rev-parse', 'HEAD'])).toBe(sha);
  });
});
