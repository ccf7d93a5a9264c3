import { accessSync, constants, readFileSync } from 'node:fs';
import { delimiter, dirname, join, relative, resolve, isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nightless package root (where `bin/nightless.js` lives), from this compiled or source file. */
const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface InvocationContext {
  /** Where the user will paste the command (the server's working directory). */
  readonly cwd: string;
  /** `$PATH` of the server's environment. */
  readonly path: string | undefined;
  /** Root of this nightless package; default: the one this file belongs to. */
  readonly packageRoot?: string;
}

/**
 * How to run the `nightless` CLI in commands the server prints, so they work as printed:
 * `nightless` when it is on `$PATH`; `npx nightless` when the user is inside this package's
 * checkout (npx then runs the project's own bin, never a download); otherwise the absolute
 * `node …/bin/nightless.js`.
 */
export function cliInvocation(ctx: InvocationContext): string {
  if (onPath('nightless', ctx.path)) return 'nightless';
  const root = ctx.packageRoot ?? PACKAGE_ROOT;
  if (isInside(ctx.cwd, root) && packageName(root) === 'nightless') return 'npx nightless';
  const bin = join(root, 'bin', 'nightless.js');
  return `node ${shellWord(bin)}`;
}

/** Text as one shell word: bare when it is plain, else single-quoted. */
export function shellWord(text: string): string {
  return /^[\w./+@:-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function onPath(name: string, path: string | undefined): boolean {
  for (const dir of (path ?? '').split(delimiter)) {
    if (dir === '') continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not here
    }
  }
  return false;
}

function isInside(dir: string, root: string): boolean {
  const rel = relative(resolve(root), resolve(dir));
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

function packageName(root: string): string | null {
  try {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: unknown };
    return typeof pkg.name === 'string' ? pkg.name : null;
  } catch {
    return null;
  }
}
