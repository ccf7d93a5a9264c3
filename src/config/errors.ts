/**
 * Configuration problems and the single error type the loader throws. Every problem carries
 * its location so editors and CI logs can jump to it: `file:line:col: path: message`.
 */

export interface ConfigProblem {
  /** The file name as the user gave it (not resolved), so messages match what they typed. */
  readonly file: string;
  /** 1-based; 0 means the problem concerns the whole file (unreadable, too large). */
  readonly line: number;
  /** 1-based; 0 together with `line` 0. */
  readonly column: number;
  /** Dotted path with `[i]` for list indices (`jobs.build.inputs[1]`); empty for the document itself. */
  readonly path: string;
  readonly message: string;
}

/** `nightless.yaml:14:7: jobs.build.inputs[1]: unknown source "glibcc" (did you mean "glibc"?)` */
export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
  return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
}

/** Orders problems by position (file-level ones first) so the output reads top to bottom. */
function sortProblems(problems: readonly ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  const unique: ConfigProblem[] = [];
  for (const p of problems) {
    const key = formatProblem(p);
    if (!seen.has(key)) {
      seen.add(key);
      unique.push(p);
    }
  }
  return unique.sort(
    (a, b) =>
      a.line - b.line ||
      a.column - b.column ||
      (a.path < b.path ? -1 : a.path > b.path ? 1 : 0) ||
      (a.message < b.message ? -1 : a.message > b.message ? 1 : 0),
  );
}

/** Thrown by `loadPipelineFile`/`parsePipeline` with every problem found, never just the first. */
export class ConfigError extends Error {
  readonly code = 'NL_CONFIG_INVALID';
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    const sorted = Object.freeze(sortProblems(problems));
    super(sorted.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = sorted;
  }
}
