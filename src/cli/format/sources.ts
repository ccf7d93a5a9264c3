import type { SourceSummary } from '../../api/types.js';
import type { Colours } from './colour.js';
import { renderFields } from './table.js';
import { formatClock, formatRelative, formatSpan, formatTimestamp } from './time.js';
import { shortVersion } from './version.js';

/** When the next fallback check runs: absolute local time AND how long until then. */
function formatNextCheck(source: SourceSummary, now: number): string {
  if (source.nextCheckAt === null) {
    return source.fallbackPollMs === null ? 'off (events only)' : 'not scheduled';
  }
  // Same day: the clock is enough; otherwise the date matters too.
  const sameDay = new Date(source.nextCheckAt).toDateString() === new Date(now).toDateString();
  const at = sameDay ? formatClock(source.nextCheckAt) : formatTimestamp(source.nextCheckAt);
  const rel = source.nextCheckAt <= now ? 'due now' : formatRelative(source.nextCheckAt, now);
  const every =
    source.fallbackPollMs === null ? '' : `, every ${formatSpan(source.fallbackPollMs)}`;
  return `${at} (${rel}${every})`;
}

function formatLastCheck(source: SourceSummary, now: number, c: Colours): string {
  if (source.lastCheckAt === null) return 'never';
  const when = formatRelative(source.lastCheckAt, now);
  if (source.lastCheckOk === false) {
    const failures = source.pollFailures > 1 ? ` (${source.pollFailures} failures in a row)` : '';
    return c.red(`failed ${when}: ${source.lastError ?? 'unknown error'}${failures}`);
  }
  return `${c.green('ok')} ${when}`;
}

/** `nightless sources`: one block per source. */
export function formatSources(
  sources: readonly SourceSummary[],
  now: number,
  c: Colours,
): string[] {
  const lines: string[] = [];
  for (const s of sources) {
    if (lines.length > 0) lines.push('');
    lines.push(`${c.bold(s.name)}  ${s.kind}${s.url === null ? '' : `  ${c.dim(s.url)}`}`);
    const heads =
      s.heads.length === 0
        ? c.dim('(no version yet)')
        : s.heads
            .map(
              (h) =>
                `${h.ref ?? '(default)'} → ${shortVersion(h.version)} ${c.dim(
                  `(${h.origin}, ${formatRelative(h.at, now)})`,
                )}`,
            )
            .join('\n');
    const missed = s.missedEvents > 0 ? c.yellow(`${s.missedEvents} missed`) : '0 missed';
    const lastEvent = s.lastEventAt === null ? '' : `, last ${formatRelative(s.lastEventAt, now)}`;
    const fields: Array<[string, string]> = [
      ['heads', heads],
      ['next check', formatNextCheck(s, now)],
      ['last check', formatLastCheck(s, now, c)],
      ['events', `${s.eventsReceived} received${lastEvent}, ${missed}`],
    ];
    if (s.branches !== undefined && s.branches.length > 0) {
      fields.splice(1, 0, ['branches', s.branches.join(', ')]);
    }
    if (s.queue !== undefined) fields.splice(1, 0, ['queue', s.queue]);
    lines.push(...renderFields(fields).map((l) => `  ${l}`));
  }
  if (sources.length === 0) lines.push(c.dim('(no sources)'));
  return lines;
}

/**
 * `nightless status`: the sources whose last check failed, with the error, so a broken source
 * (a wrong path, a revoked token) is seen where people look first. Empty when all are well.
 */
export function formatFailingSources(
  sources: readonly SourceSummary[],
  now: number,
  c: Colours,
): string[] {
  const failing = sources.filter((s) => s.lastCheckOk === false);
  if (failing.length === 0) return [];
  const width = Math.max(...failing.map((s) => s.name.length));
  return [
    '',
    c.bold(failing.length === 1 ? 'A source check failed:' : 'Source checks failed:'),
    ...failing.map((s) => `  ${s.name.padEnd(width)}  ${formatLastCheck(s, now, c)}`),
  ];
}
