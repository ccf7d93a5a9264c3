import { closest, distance } from 'fastest-levenshtein';

/** Job, source and output names. No dots: a dot separates a job from its output (`build.dist`). */
export const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
export const NAME_RULE = 'use letters, digits, "_" and "-" (not first), no dots';

/** Environment variable names as POSIX shells accept them. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The closest candidate when it is close enough to be a plausible typo: at most a third of the
 * word's length (minimum 1, maximum 3 edits), so `x` never suggests `exchange`.
 */
export function suggest(word: string, candidates: Iterable<string>): string | null {
  const list = [...candidates].filter((c) => c !== word);
  if (list.length === 0) return null;
  const best = closest(word, list);
  const limit = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  return distance(word, best) <= limit ? best : null;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === null ? '' : ` (did you mean "${s}"?)`;
}
