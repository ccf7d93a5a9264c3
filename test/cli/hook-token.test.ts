import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWithToken, writeOneJobPipeline } from '../../src/testing/token-server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Nightless } from '../../src/app/start-nightless.js';
import { git } from '../../src/testing/git.js';
import { runCli } from './helpers/spawn-cli.js';

/**
 * `nightless hook install` gives the repository's hook a token of its own with the `hook` scope
 * (not the admin token): a real server, a real bare repository, a real `git push`.
 */

const BOOTSTRAP = 'nl_hook-token-bootstrap';
let root: string;
let bare: string;
let work: string;
let nl: Nightless;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-hook-token-'));
  ({ work, bare } = await writeOneJobPipeline(root));
  nl = await startWithToken(root, BOOTSTRAP);
});

afterAll(async () => {
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

async function whoami(token: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${nl.url}/api/whoami`, {
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: await res.json() };
}

describe('nightless hook install', () => {
  it('creates a hook-scoped token for the repository, keeps it on reinstall, and a push builds with it', async () => {
    const install = () =>
      runCli(['hook', 'install', bare, '--server', nl.url, '--token', BOOTSTRAP], {
        timeoutMs: 30_000,
      });
    const first = await install();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(
      /token: "hook:app\.git-[0-9a-f]{8}" \(scope hook, new\) in .*nightless-hook-token/,
    );
    const file = join(bare, 'nightless-hook-token');
    const token = (await readFile(file, 'utf8')).trim();
    expect(token).toMatch(/^nl_/);
    expect(token).not.toBe(BOOTSTRAP);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    expect((await whoami(token)).body).toMatchObject({ scopes: ['hook'] });

    const again = await install();
    expect(again.stdout).toContain('(scope hook, kept)');
    expect((await readFile(file, 'utf8')).trim()).toBe(token);

    await writeFile(join(work, 'README'), 'changed\n');
    git(work, 'commit', '-qam', 'change');
    git(work, 'push', '-q', 'origin', 'main');
    const head = git(work, 'rev-parse', 'HEAD');
    const deadline = Date.now() + 15_000;
    let origin: string | undefined;
    while (Date.now() < deadline && origin === undefined) {
      const res = await fetch(`${nl.url}/api/sources`, { signal: AbortSignal.timeout(5000) });
      const body = (await res.json()) as {
        sources: Array<{ name: string; heads: Array<{ version: string; origin: string }> }>;
      };
      origin = body.sources[0]?.heads.find((h) => h.version === head)?.origin;
      if (origin === undefined) await new Promise((r) => setTimeout(r, 100));
    }
    expect(origin).toBe('hook');
  }, 120_000);

  it('replaces a token the server no longer accepts', async () => {
    const file = join(bare, 'nightless-hook-token');
    const old = (await readFile(file, 'utf8')).trim();
    const me = (await whoami(old)).body as { name: string };
    const revoke = await fetch(`${nl.url}/api/tokens/${encodeURIComponent(me.name)}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${BOOTSTRAP}` },
    });
    expect(revoke.status).toBe(200);
    const r = await runCli(['hook', 'install', bare, '--server', nl.url, '--token', BOOTSTRAP], {
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(scope hook, new)');
    const fresh = (await readFile(file, 'utf8')).trim();
    expect(fresh).not.toBe(old);
    expect((await whoami(fresh)).status).toBe(200);
    expect((await whoami(old)).status).toBe(401);
  }, 120_000);
});
