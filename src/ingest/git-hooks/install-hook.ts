import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { runCommand } from '../poll/run-command.js';
import { CHAINED_SUFFIX, HOOK_MARKER, hookScript, type HookName } from './hook-script.js';

export interface InstallOptions {
  /** Base URL of the nightless server (`http://127.0.0.1:8080`). */
  readonly serverUrl: string;
  /** Token file the hook reads at each run; `null`: the hook only uses `NIGHTLESS_TOKEN`. */
  readonly tokenFile?: string | null;
}

export interface HookLocation {
  readonly repo: string;
  readonly bare: boolean;
  readonly hook: HookName;
  readonly path: string;
}

export interface InstallResult extends HookLocation {
  /** An existing hook was moved to `<hook>.pre-nightless` and is called first. */
  readonly chained: boolean;
  /** Ours was already there: it was rewritten (new URL or token file), nothing else changed. */
  readonly updated: boolean;
}

class HookInstallError extends Error {
  readonly code = 'NL_HOOK_INSTALL';
}

/**
 * Where the hook goes: a bare repository gets `post-receive` (runs once per push); a working
 * repository gets `reference-transaction` (git ≥ 2.28; it sees commits, merges, resets and
 * fetches alike). The hooks directory is git's own answer (`core.hooksPath` respected).
 */
async function locateHook(repoPath: string): Promise<HookLocation> {
  const git = async (...args: string[]) => {
    const res = await runCommand('git', args, { timeoutMs: 10_000, cwd: repoPath });
    if (res.code !== 0)
      throw new HookInstallError(`${repoPath} is not a git repository: ${res.stderr.trim()}`);
    return res.stdout.trim();
  };
  const bare = (await git('rev-parse', '--is-bare-repository')) === 'true';
  const repo = bare
    ? await git('rev-parse', '--absolute-git-dir')
    : await git('rev-parse', '--show-toplevel');
  const hooksDir = await git('rev-parse', '--git-path', 'hooks');
  const hook: HookName = bare ? 'post-receive' : 'reference-transaction';
  const dir = isAbsolute(hooksDir) ? hooksDir : resolve(repoPath, hooksDir);
  return { repo, bare, hook, path: join(dir, hook) };
}

/**
 * Installs the notifying hook. Idempotent: run twice, the second run only rewrites ours. A hook
 * that is not ours is moved to `<hook>.pre-nightless` and called first by ours (its input and
 * arguments passed through, its exit status kept). Refuses when both a foreign hook and a
 * `.pre-nightless` one exist, rather than overwrite either.
 */
export async function installHook(repoPath: string, opts: InstallOptions): Promise<InstallResult> {
  const loc = await locateHook(repoPath);
  const existing = await readIfExists(loc.path);
  const ours = existing !== null && existing.includes(HOOK_MARKER);
  const chainedPath = loc.path + CHAINED_SUFFIX;
  let chained = (await readIfExists(chainedPath)) !== null;
  if (existing !== null && !ours) {
    if (chained) {
      throw new HookInstallError(
        `${loc.path} and ${chainedPath} both exist and neither is nightless': move one away first`,
      );
    }
    await rename(loc.path, chainedPath);
    chained = true;
  }
  await mkdir(resolve(loc.path, '..'), { recursive: true });
  const script = hookScript({
    hook: loc.hook,
    serverUrl: opts.serverUrl.replace(/\/+$/, ''),
    repo: loc.repo,
    tokenFile:
      opts.tokenFile === undefined || opts.tokenFile === null ? null : resolve(opts.tokenFile),
  });
  // Write then rename: a push running right now sees the old hook or the new one, never half.
  const tmp = `${loc.path}.nightless-tmp`;
  await writeFile(tmp, script, { mode: 0o755 });
  await chmod(tmp, 0o755);
  await rename(tmp, loc.path);
  return { ...loc, chained, updated: ours };
}

export interface UninstallResult extends HookLocation {
  readonly removed: boolean;
  /** The hook from before nightless was put back. */
  readonly restored: boolean;
}

/** Removes our hook and puts back the one it chained to. A hook that is not ours is left alone. */
export async function uninstallHook(repoPath: string): Promise<UninstallResult> {
  const loc = await locateHook(repoPath);
  const existing = await readIfExists(loc.path);
  if (existing === null || !existing.includes(HOOK_MARKER))
    return { ...loc, removed: false, restored: false };
  await rm(loc.path);
  const chainedPath = loc.path + CHAINED_SUFFIX;
  const restored = (await readIfExists(chainedPath)) !== null;
  if (restored) await rename(chainedPath, loc.path);
  return { ...loc, removed: true, restored };
}

async function readIfExists(path: string): Promise<string | null> {
  try {
    if (!(await stat(path)).isFile()) return null;
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
