import { closest, distance } from 'fastest-levenshtein';

/** Job, source and output names. No dots: a dot separates a job from its output (`build.dist`). */
export const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
export const NAME_RULE = 'use letters, digits, "_" and "-" (not first), no dots';

/** Environment variable names as POSIX shells accept them. */
export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * The closest candidate when it is close enough to be a plausible typo: 1 edit for words of up
 * to 3 characters, 2 up to 6 (a swapped pair, `stpes`, is 2 edits), 3 beyond — so `x` never
 * suggests `exchange`.
 */
function suggest(word: string, candidates: Iterable<string>): string | null {
  const list = [...candidates].filter((c) => c !== word);
  if (list.length === 0) return null;
  const best = closest(word, list);
  const limit = word.length <= 3 ? 1 : word.length <= 6 ? 2 : 3;
  return distance(word, best) <= limit ? best : null;
}

/** ` (did you mean "x"?)` or the empty string. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === null ? '' : ` (did you mean "${s}"?)`;
}
