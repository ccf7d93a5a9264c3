import { redactText } from './redact.js';

/** At most this many lines, and this many characters, of a failed command's stderr are kept. */
export const STDERR_MAX_LINES = 6;
export const STDERR_MAX_CHARS = 600;

/** Lines that say what went wrong, as git, ssh and curl print them. */
const MEANINGFUL = /^(fatal|error|remote|ssh|warning|ERROR|curl):/i;

/**
 * The part of a failed command's stderr worth showing, on one line: git explains a failure in
 * its `fatal:`/`error:`/`remote:` lines (and ssh in `ssh:`), and ends with advice ("Please make
 * sure you have the correct access rights and the repository exists.") that is the same for
 * every cause. So those lines are kept in order — or, when there are none, the last lines —
 * bounded in count and length, joined with "; ", and redacted (URL credentials, `secretValues`).
 * Pure: the caller names the command.
 */
export function stderrSummary(stderr: string, secretValues: readonly string[] = []): string {
  const lines = stderr
    .split(/\r\n|\r|\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^hint:/i.test(l));
  const flagged = lines.filter((l) => MEANINGFUL.test(l));
  const chosen = flagged.length > 0 ? flagged : lines.slice(-STDERR_MAX_LINES);
  const kept: string[] = [];
  for (const l of chosen) if (kept[kept.length - 1] !== l) kept.push(l);
  const extra = kept.length > STDERR_MAX_LINES ? ` (+${kept.length - STDERR_MAX_LINES} lines)` : '';
  let text = kept.slice(0, STDERR_MAX_LINES).join('; ') + extra;
  if (text.length > STDERR_MAX_CHARS) text = `${text.slice(0, STDERR_MAX_CHARS - 1)}…`;
  return redactText(text, secretValues);
}
