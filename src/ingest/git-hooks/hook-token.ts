import { createHash } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Scope } from '../../core/access.js';
import { runCommand } from '../poll/run-command.js';

/** What giving a hook its token needs from the server: the API for the CLI, the store for the demo. */
export interface HookTokenIssuer {
  /** The scopes of `token`, or null when the server refuses it (unknown, expired, revoked). */
  scopesOf(token: string): Promise<readonly Scope[] | null>;
  /** Creates a `hook`-scoped token named `name`; throws `NameTaken` when an active one has it. */
  create(name: string): Promise<string>;
  revoke(name: string): Promise<void>;
}

export class HookTokenNameTaken extends Error {}

export interface HookToken {
  readonly file: string;
  readonly name: string;
  /** The token already in `file` was valid and `hook`-scoped: nothing was created. */
  readonly reused: boolean;
}

/** One token per repository: `hook:app.git-1a2b3c4d` (the path's hash keeps same-named repos apart). */
function hookTokenName(repo: string): string {
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
 * created (an older one of the same name — its file was lost — is revoked first).
 */
export async function ensureHookToken(issuer: HookTokenIssuer, repo: string): Promise<HookToken> {
  const gitDir = await absoluteGitDir(repo);
  const file = join(gitDir, 'nightless-hook-token');
  const name = hookTokenName(repo);
  const existing = await readFile(file, 'utf8').then(
    (t) => t.trim(),
    () => '',
  );
  if (existing !== '' && (await issuer.scopesOf(existing))?.includes('hook'))
    return { file, name, reused: true };
  const created = await issuer.create(name).catch(async (err: unknown) => {
    if (!(err instanceof HookTokenNameTaken)) throw err;
    await issuer.revoke(name);
    return issuer.create(name);
  });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${created}\n`, { mode: 0o644 });
  await rename(tmp, file);
  return { file, name, reused: false };
}

async function absoluteGitDir(repo: string): Promise<string> {
  const r = await runCommand('git', ['rev-parse', '--absolute-git-dir'], {
    timeoutMs: 10_000,
    cwd: repo,
  });
  if (r.code !== 0) throw new Error(`${repo} is not a git repository: ${r.stderr.trim()}`);
  return r.stdout.trim();
}
