import type { ApiBuild as Build } from '../../api/types.js';
import type { JobSummary } from '../../api/types.js';
import { buildDuration, buildTime, formatInputs, formatPinned, formatReason } from './build.js';
import type { Colours } from './colour.js';
import { renderTable } from './table.js';
import { formatRelative, formatSpan } from './time.js';

/** States whose reason `status` shows: the ones a person must act on or understand. */
const EXPLAINED = new Set(['failed', 'error', 'skipped', 'superseded', 'cancelled']);

/** `nightless status`: one row per job with its latest build. */
export function formatStatusTable(jobs: readonly JobSummary[], now: number, c: Colours): string[] {
  const rows = jobs.map((job) => {
    const b = job.latest;
    if (b === null) return [job.name, c.dim('never built'), '', '', '', ''];
    let note = EXPLAINED.has(b.state) ? (formatReason(b) ?? '') : '';
    // While a build is active, the last result is what people still rely on: show it.
    const last = job.lastFinished;
    if (!EXPLAINED.has(b.state) && b.state !== 'passed' && last !== null && last.id !== b.id) {
      note = `last finished: #${last.id} ${c.state(last.state)}`;
    }
    if (b.state === 'queued' && job.waiting)
      note = note === '' ? job.waiting : `${job.waiting}; ${note}`;
    return [
      job.name,
      c.state(b.state),
      `#${b.id}`,
      formatInputs(b),
      formatRelative(buildTime(b), now),
      note,
    ];
  });
  return withoutEmptyLastColumn(['JOB', 'STATE', 'BUILD', 'INPUTS', 'WHEN', 'REASON'], rows, [2]);
}

/** States whose build page `status` links to: someone will want to open the log. */
const LINKED = new Set(['failed', 'error']);

/**
 * The page links of the jobs whose latest build failed, under `status`'s table (the table stays
 * narrow; a terminal makes the URLs clickable).
 */
export function formatFailedBuildLinks(jobs: readonly JobSummary[], c: Colours): string[] {
  const failed = jobs.flatMap((j) => (j.latest && LINKED.has(j.latest.state) ? [j.latest] : []));
  if (failed.length === 0) return [];
  const width = Math.max(...failed.map((b) => `${b.job} #${b.id}`.length));
  return [
    '',
    c.bold(failed.length === 1 ? 'A build failed:' : 'Builds failed:'),
    ...failed.map((b) => `  ${`${b.job} #${b.id}`.padEnd(width)}  ${b.url}`),
  ];
}

/** `nightless builds`: one row per build, newest first as the server sent them. */
export function formatBuildsTable(builds: readonly Build[], now: number, c: Colours): string[] {
  const rows = builds.map((b) => {
    const duration = buildDuration(b, now);
    return [
      `#${b.id}`,
      b.job,
      c.state(b.state),
      formatInputs(b),
      formatRelative(b.queuedAt, now),
      duration === null ? '' : formatSpan(duration),
      formatReason(b) ?? formatPinned(b.cause) ?? '',
    ];
  });
  return withoutEmptyLastColumn(
    ['BUILD', 'JOB', 'STATE', 'INPUTS', 'QUEUED', 'DURATION', 'REASON'],
    rows,
    [0],
  );
}

/** Drops the trailing REASON column when no row has one, so quiet tables stay narrow. */
function withoutEmptyLastColumn(
  header: readonly string[],
  rows: ReadonlyArray<readonly string[]>,
  alignRight: readonly number[],
): string[] {
  const last = header.length - 1;
  if (rows.some((r) => (r[last] ?? '') !== '')) return renderTable(header, rows, { alignRight });
  return renderTable(
    header.slice(0, last),
    rows.map((r) => r.slice(0, last)),
    { alignRight },
  );
}
