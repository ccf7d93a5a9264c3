import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Scope } from '../../core/access.js';
import { runCommand } from '../../ingest/poll/run-command.js';
import type { ApiClient } from '../client.js';
import { ApiError, UsageError } from '../errors.js';

export interface HookToken {
  readonly file: string;
  readonly name: string;
  /** The token already in `file` was valid and `hook`-scoped: nothing was created. */
  readonly reused: boolean;
}

/** One token per repository: `hook:app.git-1a2b3c4d` (the path's hash keeps same-named repos apart). */
export function hookTokenName(repo: string): string {
  const tag = createHash('sha256').update(repo).digest('hex').slice(0, 8);
  const base =
    basename(repo)
      .replace(/[^A-Za-z0-9._-]/g, '_')
      .slice(0, 60) || 'repo';
  return `hook:${base}-${tag}`;
}

/**
 * Gives the repository's hook a token of its own with the `hook` scope only, in
 * `<git-dir>/nightless-hook-token` (readable by whoever runs git: it can announce pushes and
 * nothing else). A token already there that the server accepts is kept; otherwise a new one is
 * created with the admin `client` (an older one of the same name is revoked first).
 */
export async function ensureHookToken(
  admin: ApiClient,
  asHook: (token: string) => ApiClient,
  repo: string,
): Promise<HookToken> {
  const gitDir = await absoluteGitDir(repo);
  const file = join(gitDir, 'nightless-hook-token');
  const name = hookTokenName(repo);
  const existing = await readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (existing !== '') {
    try {
      const me = await asHook(existing).getJson<{ name: string; scopes: Scope[] }>('/api/whoami');
      if (me.scopes.includes('hook')) return { file, name: me.name, reused: true };
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 401) throw err;
    }
  }
  const created = await createToken(admin, name).catch(async (err: unknown) => {
    if (!(err instanceof ApiError) || err.status !== 409) throw err;
    // The hook lost its token file: the old token of that name is useless now, replace it.
    await admin.deleteJson(`/api/tokens/${encodeURIComponent(name)}`);
    return createToken(admin, name);
  });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${created}\n`, { mode: 0o644 });
  await rename(tmp, file);
  return { file, name, reused: false };
}

async function createToken(admin: ApiClient, name: string): Promise<string> {
  const body = await admin.postJson<{ token: string }>('/api/tokens', { name, scopes: ['hook'] });
  return body.token;
}

async function absoluteGitDir(repo: string): Promise<string> {
  const r = await runCommand('git', ['rev-parse', '--absolute-git-dir'], {
    timeoutMs: 10_000,
    cwd: repo,
  });
  if (r.code !== 0) throw new UsageError(`${repo} is not a git repository: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
