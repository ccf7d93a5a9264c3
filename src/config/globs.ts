import picomatch from 'picomatch';

/**
 * Glob checks. picomatch is lenient by default (an unclosed `[` matches literally), which hides
 * typos; `strictBrackets` makes it report them, and we surface that as a config error.
 */

/** Why `pattern` is not a usable glob, or null. */
export function globProblem(pattern: string): string | null {
  if (pattern.trim() === '') return 'a glob cannot be empty';
  if (pattern.includes('\0')) return 'a glob cannot contain a NUL character';
  try {
    picomatch.makeRe(pattern, { strictBrackets: true });
    return null;
  } catch (e) {
    return `invalid glob: ${(e as Error).message.replace(/ - use .*$/, '')}`;
  }
}

/** Output and coverage paths: globs inside the workspace, never outside it. */
export function workspacePathProblem(pattern: string): string | null {
  if (/^(?:\/|\\|~|[A-Za-z]:[\\/])/.test(pattern))
    return 'must be relative to the workspace, not absolute';
  if (pattern.split(/[\\/]/).includes('..'))
    return 'must not contain ".." (it would leave the workspace)';
  return globProblem(pattern);
}

/**
 * Branch patterns (`main`, `release/*`): a glob that is also a plausible git ref name
 * (the rules of `git check-ref-format`, minus the glob characters).
 */
export function branchPatternProblem(pattern: string): string | null {
  if (pattern === '') return 'a branch pattern cannot be empty';
  if (pattern.startsWith('refs/')) return 'write the branch name without "refs/heads/"';
  if (/[\s\x00-\x1f\x7f~^:\\]/.test(pattern))
    return 'a branch name cannot contain spaces, control characters, "~", "^", ":" or "\\"';
  if (pattern.includes('..')) return 'a branch name cannot contain ".."';
  if (pattern.includes('@{')) return 'a branch name cannot contain "@{"';
  if (pattern.includes('//') || pattern.startsWith('/') || pattern.endsWith('/'))
    return 'a branch name cannot start or end with "/" or contain "//"';
  if (pattern.endsWith('.') || pattern.endsWith('.lock'))
    return 'a branch name cannot end with "." or ".lock"';
  if (pattern.startsWith('-')) return 'a branch name cannot start with "-"';
  return globProblem(pattern);
}
