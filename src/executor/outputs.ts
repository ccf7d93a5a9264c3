import { createHash } from 'node:crypto';
import { lstat, readdir, realpath, stat } from 'node:fs/promises';
import { join, posix, relative, sep } from 'node:path';
import picomatch from 'picomatch';
import type { ContentStore } from '../artifacts/content-store.js';
import type { ArtifactFile, CollectedOutput } from './port.js';
import { RunError } from './run-error.js';

/** Never searched by a glob: git's internals and nightless' own input copies. */
const SKIPPED_DIRS = new Set(['.git', '.nightless']);

/**
 * The digest of an output: sha256 over its files' `<path> <sha256>\n` lines sorted by path —
 * also for a single file, so an output's digest changes when a file is renamed.
 */
export function outputDigest(files: readonly Pick<ArtifactFile, 'path' | 'digest'>[]): string {
  const lines = files
    .map((f) => `${f.path} ${f.digest}\n`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return createHash('sha256').update(lines.join('')).digest('hex');
}

/**
 * Expands each output's globs relative to the workspace and stores the matched files.
 *
 * Rules: patterns are relative and never contain `..`; a matched directory contributes every
 * file below it (symlinked directories inside it are not followed); every file's real path must
 * stay inside the workspace (a symlink pointing out is refused, not skipped); an output whose
 * patterns match no file is an error. Paths in the result are workspace-relative, `/`-separated.
 * Throws `RunError('outputs')`.
 */
export async function collectOutputs(
  workspace: string,
  outputs: Readonly<Record<string, readonly string[]>>,
  artifacts: ContentStore,
): Promise<CollectedOutput[]> {
  const root = await realpath(workspace);
  const collected: CollectedOutput[] = [];
  for (const [name, patterns] of Object.entries(outputs)) {
    const matched = new Map<string, string>(); // workspace-relative path → absolute path
    for (const pattern of patterns) await expand(root, name, pattern, matched);
    if (matched.size === 0) {
      throw new RunError(
        'outputs',
        `output ${JSON.stringify(name)} matched no files (${patterns.join(', ')})`,
      );
    }
    const files: ArtifactFile[] = [];
    for (const path of [...matched.keys()].sort()) {
      const abs = matched.get(path) ?? '';
      const real = await realpath(abs);
      if (!isInside(root, real)) {
        throw new RunError(
          'outputs',
          `output ${JSON.stringify(name)}: ${path} resolves outside the workspace`,
        );
      }
      const blob = await artifacts.put(real);
      files.push({ path, digest: blob.digest, size: blob.size });
    }
    collected.push({ name, digest: outputDigest(files), files });
  }
  return collected;
}

async function expand(
  root: string,
  output: string,
  pattern: string,
  into: Map<string, string>,
): Promise<void> {
  const segments = pattern.split(/[\\/]/);
  if (
    pattern === '' ||
    posix.isAbsolute(pattern) ||
    /^[A-Za-z]:/.test(pattern) ||
    segments.includes('..')
  ) {
    throw new RunError(
      'outputs',
      `output ${JSON.stringify(output)}: pattern ${JSON.stringify(pattern)} must stay inside the workspace`,
    );
  }
  const clean = pattern.replace(/^(\.\/)+/, '');
  const scan = picomatch.scan(clean);
  if (!scan.isGlob) {
    await addEntry(root, output, clean.replace(/\/+$/, ''), into);
    return;
  }
  const isMatch = picomatch(clean);
  const walk = async (relDir: string): Promise<void> => {
    const entries = await readdir(join(root, relDir), { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const rel = relDir === '' ? e.name : `${relDir}/${e.name}`;
      if (isMatch(rel)) await addEntry(root, output, rel, into);
      else if (e.isDirectory() && !SKIPPED_DIRS.has(e.name)) await walk(rel);
    }
  };
  await walk(scan.base);
}

/** Adds a matched path: a file (or symlink to one), or every file below a directory. */
async function addEntry(
  root: string,
  output: string,
  rel: string,
  into: Map<string, string>,
): Promise<void> {
  const abs = join(root, rel);
  const l = await lstat(abs).catch(() => null);
  if (l === null) return;
  if (l.isSymbolicLink()) {
    const real = await realpath(abs).catch(() => null);
    if (real === null) return; // dangling link: nothing to store
    if (!isInside(root, real)) {
      throw new RunError(
        'outputs',
        `output ${JSON.stringify(output)}: ${rel} points outside the workspace`,
      );
    }
    if ((await stat(real)).isFile()) into.set(rel, abs);
    return;
  }
  if (l.isFile()) {
    into.set(rel, abs);
    return;
  }
  if (!l.isDirectory()) return; // sockets, fifos: not artifacts
  for (const e of await readdir(abs, { withFileTypes: true })) {
    if (e.isDirectory() && SKIPPED_DIRS.has(e.name)) continue;
    // Symlinked directories below are checked (refused when pointing out) but not followed.
    await addEntry(root, output, `${rel}/${e.name}`, into);
  }
}

function isInside(root: string, real: string): boolean {
  const rel = relative(root, real);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !posix.isAbsolute(rel);
}
