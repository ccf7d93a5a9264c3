import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join, posix, resolve, sep } from 'node:path';
import type { ContentStore } from '../artifacts/content-store.js';
import type { SourceDef } from '../core/pipeline.js';
import { formatDuration } from './format-duration.js';
import type { GitMirrors } from './git-mirror.js';
import type { LogWriter } from './log-writer.js';
import type { RunInput } from './port.js';
import { RunError } from './run-error.js';
import { moveTree, prepareTree } from './warm-tree.js';
import { removeTree } from './workspace.js';
import { isFullSha } from '../core/git-sha.js';

/** One input as the steps see it. */
export interface MaterializedInput {
  readonly name: string;
  readonly kind: SourceDef['kind'];
  readonly version: string;
  readonly ref: string | null;
  /** Absolute path of the input's files in the workspace; `null` for inputs without files (http, amqp). */
  readonly path: string | null;
  /** Absolute paths of a job-output input's files, sorted; `null` for other kinds. */
  readonly files: readonly string[] | null;
}

export interface MaterializeContext {
  readonly workspace: string;
  readonly inputs: readonly RunInput[];
  readonly mirrors: GitMirrors;
  readonly artifacts: ContentStore;
  readonly log: LogWriter;
  readonly signal: AbortSignal;
  /**
   * The workspace holds an earlier passing build's tree of the same job (a warm workspace):
   * git inputs are moved to their new commit and everything else in it is removed first.
   */
  readonly reuse?: boolean;
  /** The reused tree was cleaned when it was parked: `checkout --force` alone is enough. */
  readonly scrubbed?: boolean;
}

const INPUTS_FILE = 'nightless-inputs.json';
/** Where job-output inputs are placed, relative to the workspace. */
const OUTPUT_INPUTS_DIR = join('.nightless', 'inputs');

/** `build.dist` → `BUILD_DIST`: the `<NAME>` in `NIGHTLESS_INPUT_<NAME>_*`. */
function inputEnvName(source: string): string {
  return source.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

/**
 * Puts every input in place. Git inputs first: a single git input is checked out at the
 * workspace root (which must still be empty), several go to `<workspace>/<source name>`.
 * Throws `RunError('checkout' | 'workspace')`.
 */
export async function materializeInputs(ctx: MaterializeContext): Promise<MaterializedInput[]> {
  const gitCount = ctx.inputs.filter((i) => i.def.kind === 'git').length;
  if (ctx.reuse === true) await keepOnlyGitTrees(ctx, gitCount);
  const result: MaterializedInput[] = [];
  // Git inputs first: at the root, `clean -ffdx` would remove job outputs put there before.
  const ordered = [
    ...ctx.inputs.filter((i) => i.def.kind === 'git'),
    ...ctx.inputs.filter((i) => i.def.kind !== 'git'),
  ];
  for (const input of ordered) {
    if (ctx.signal.aborted) throw new RunError('checkout', 'cancelled during checkout');
    const def = input.def;
    const base = {
      name: input.source,
      kind: def.kind,
      version: input.version,
      ref: input.ref,
      files: null,
    };
    switch (def.kind) {
      case 'git': {
        const dest = gitCount === 1 ? ctx.workspace : join(ctx.workspace, safeName(input.source));
        const started = Date.now();
        ctx.log.system(
          `==> checkout ${input.source} ${input.version}${input.ref === null ? '' : ` (${input.ref})`}`,
        );
        const clean = ctx.scrubbed !== true;
        // The warm tree is checked, its `.git` reset and the tree cleaned while the commit may
        // still be on its way: once it has landed, only the checkout itself is left.
        const expected = ctx.mirrors.mirrorDir(def.url);
        const prepared =
          ctx.reuse === true
            ? prepareTree(ctx.mirrors, {
                mirror: expected,
                dest,
                url: def.url,
                clean,
                signal: ctx.signal,
              })
            : Promise.resolve(false);
        // Its checkout starts the moment the start-early fetch's git exits, when that fetch is
        // still running once the tree is ready; if it fails, the commit is awaited as usual.
        const followed = prepared
          .then((ok) => {
            const after = ok ? ctx.mirrors.fetchBringing(def.url, input.version) : undefined;
            const move = { commit: input.version, dest, signal: ctx.signal };
            return after !== undefined && moveTree(ctx.mirrors, { ...move, after });
          })
          .catch(() => false);
        // Never on with a checkout still running in the tree (a follower, when this throws).
        const { mirror, commit } = await ctx.mirrors
          .ensureCommit(def.url, input.version, ctx.signal)
          .finally(() => followed);
        const warm =
          (await prepared) &&
          mirror === expected &&
          ((await followed) || (await moveTree(ctx.mirrors, { commit, dest, signal: ctx.signal })));
        if (!warm) {
          if (ctx.reuse === true) await emptyDir(dest);
          await ctx.mirrors.checkout(mirror, commit, dest, def.url, ctx.signal);
        }
        if (input.mergeTarget !== undefined) {
          const tip = await ctx.mirrors.mergeTarget(
            mirror,
            dest,
            input.mergeTarget,
            def.url,
            ctx.signal,
          );
          ctx.log.system(`merged ${input.mergeTarget} (${tip.slice(0, 12)}) into ${input.ref}`);
        }
        ctx.log.system(
          `<== checked out ${commit.slice(0, 12)} in ${formatDuration(Date.now() - started)}${warm ? ' (warm workspace)' : ''}`,
        );
        result.push({ ...base, version: commit, path: dest });
        break;
      }
      case 'job-output': {
        const dir = join(ctx.workspace, OUTPUT_INPUTS_DIR, safeName(input.source));
        await mkdir(dir, { recursive: true });
        const files: string[] = [];
        for (const file of input.files) {
          const dest = join(dir, ...safeRelative(file.path, dir));
          await ctx.artifacts.materialize(file.digest, dest);
          files.push(dest);
        }
        const n = input.files.length;
        ctx.log.system(
          `==> input ${input.source} ${input.version} (${n} file${n === 1 ? '' : 's'})`,
        );
        result.push({ ...base, path: dir, files: files.sort() });
        break;
      }
      case 'http':
      case 'amqp':
        result.push({ ...base, path: null });
        break;
    }
  }
  // In the order the job declares its inputs (the inputs file and environment list them so).
  return ctx.inputs.map((i) => result.find((r) => r.name === i.source) as MaterializedInput);
}

/**
 * What `materializeInputs` will return when every input is a git input named by its full commit
 * id, worked out before anything is fetched (the first step is started ahead on it, see
 * `HeldStep`); `null` for any other input (their versions or files are only known after).
 */
export function expectedInputs(
  workspace: string,
  inputs: readonly RunInput[],
): MaterializedInput[] | null {
  if (!inputs.every((i) => i.def.kind === 'git' && isFullSha(i.version))) return null;
  try {
    return inputs.map((i) => ({
      name: i.source,
      kind: i.def.kind,
      version: i.version,
      ref: i.ref,
      path: inputs.length === 1 ? workspace : join(workspace, safeName(i.source)),
      files: null,
    }));
  } catch {
    return null;
  }
}

/**
 * A warm workspace: removes every top-level entry but the git inputs' trees (those are cleaned
 * by `update`). A single git input is the root itself: `clean -ffdx` removes the rest.
 */
async function keepOnlyGitTrees(ctx: MaterializeContext, gitCount: number): Promise<void> {
  if (gitCount === 1) return;
  const keep = new Set(
    ctx.inputs.filter((i) => i.def.kind === 'git').map((i) => safeName(i.source)),
  );
  for (const name of await readdir(ctx.workspace)) {
    if (!keep.has(name)) await removeTree(join(ctx.workspace, name));
  }
}

/** Empties `dir` (which stays): a warm tree that cannot be moved to the new commit. */
async function emptyDir(dir: string): Promise<void> {
  for (const name of await readdir(dir).catch(() => [] as string[]))
    await removeTree(join(dir, name));
}

/**
 * Environment describing the inputs: `NIGHTLESS_INPUT_<NAME>_{VERSION,PATH}`, `_REF` for git
 * inputs, and `_FILES` for job outputs — the absolute paths of its files, one per line, so a
 * one-file output is used as `"$NIGHTLESS_INPUT_BUILD_DIST_FILES"` directly.
 */
export function inputEnv(inputs: readonly MaterializedInput[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of inputs) {
    const n = inputEnvName(i.name);
    env[`NIGHTLESS_INPUT_${n}_VERSION`] = i.version;
    env[`NIGHTLESS_INPUT_${n}_PATH`] = i.path ?? '';
    if (i.kind === 'git') env[`NIGHTLESS_INPUT_${n}_REF`] = i.ref ?? '';
    if (i.files !== null) env[`NIGHTLESS_INPUT_${n}_FILES`] = i.files.join('\n');
  }
  return env;
}

/** Where `writeInputsFile` writes. */
export function inputsFilePath(workspace: string): string {
  return join(workspace, INPUTS_FILE);
}

/** Writes `<workspace>/nightless-inputs.json` and returns its path. */
export async function writeInputsFile(
  workspace: string,
  buildId: number,
  job: string,
  inputs: readonly MaterializedInput[],
): Promise<string> {
  const path = inputsFilePath(workspace);
  const body = {
    buildId,
    job,
    inputs: Object.fromEntries(
      inputs.map((i) => [
        i.name,
        {
          kind: i.kind,
          version: i.version,
          ref: i.ref,
          path: i.path,
          ...(i.files !== null ? { files: i.files } : {}),
        },
      ]),
    ),
  };
  await writeFile(path, `${JSON.stringify(body, null, 2)}\n`);
  return path;
}

/** A source name used as a directory name: refuses separators and dot-only names. */
function safeName(name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || /^\.+$/.test(name)) {
    throw new RunError(
      'workspace',
      `source name ${JSON.stringify(name)} cannot be used as a directory name`,
    );
  }
  return name;
}

/** Splits an artifact path (relative, `/`-separated) and proves it stays under `dir`. */
function safeRelative(path: string, dir: string): string[] {
  const parts = path.split('/');
  const bad =
    path === '' || posix.isAbsolute(path) || parts.some((p) => p === '' || p === '.' || p === '..');
  const target = resolve(dir, ...parts);
  if (bad || !target.startsWith(resolve(dir) + sep)) {
    throw new RunError(
      'workspace',
      `artifact path ${JSON.stringify(path)} is not a safe relative path`,
    );
  }
  return parts;
}
