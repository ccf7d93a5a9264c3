import { describeFailure } from '../../core/build-ending.js';
import type {
  ApiBuildFields as Build,
  ApiBuildCause as BuildCause,
  ApiBuildDetail as BuildDetail,
  ApiCoverage as CoverageSummary,
} from '../../api/types.js';
import type { Colours } from './colour.js';
import { renderFields } from './table.js';
import { formatSpan, formatWhen } from './time.js';
import { shortVersion, sourceAtVersion } from './version.js';

/** `app@3f2a1c0d9e glibc@2.39-1`, in the build's input order. */
export function formatInputs(build: Pick<Build, 'inputs'>): string {
  return build.inputs.map((i) => sourceAtVersion(i.source, i.version)).join(' ');
}

/** Why a build exists, in words: the rule that created it. */
export function formatCause(cause: BuildCause): string {
  switch (cause.kind) {
    case 'version':
      return `new version ${sourceAtVersion(cause.source, cause.version)}${
        cause.eventId === null ? '' : ` (event ${cause.eventId})`
      }`;
    case 'definition':
      return 'the job definition changed';
    case 'manual':
      return (
        (formatPinned(cause) ?? `manual trigger${cause.by === null ? '' : ` by ${cause.by}`}`) +
        (cause.forced ? ' (forced)' : '')
      );
    case 'retry':
      return `retry of build #${cause.previousBuild} (lost)`;
    case 'settled':
      return `quiet period of ${formatSpan(cause.quietPeriodMs)} settled`;
  }
}

/**
 * Who pinned what, for a build a person ran on chosen versions: `rebuild of #12 by alice`,
 * `app@3f2a1c0d9e pinned by alice`; null for other builds.
 */
export function formatPinned(cause: BuildCause): string | null {
  if (cause.kind !== 'manual') return null;
  const by = cause.by === null ? '' : ` by ${cause.by}`;
  if (cause.rebuildOf !== undefined) return `rebuild of #${cause.rebuildOf}${by}`;
  const pins = cause.pins ?? [];
  if (pins.length === 0) return null;
  return `${pins.map((p) => sourceAtVersion(p.source, p.version)).join(' ')} pinned${by}`;
}

/** The moment that matters most for a build: when it finished, else started, else was queued. */
export function buildTime(build: Build): number {
  return build.finishedAt ?? build.startedAt ?? build.queuedAt;
}

/** Running time: finished − started, or so far for a running build; null before it started. */
export function buildDuration(build: Build, now: number): number | null {
  if (build.startedAt === null) return null;
  return (build.finishedAt ?? now) - build.startedAt;
}

/** `superseded by #43` / `identical to #40`, or null when the build has no related build. */
export function formatRelated(build: Build): string | null {
  if (build.relatedBuild === null) return null;
  if (build.state === 'superseded') return `superseded by #${build.relatedBuild}`;
  if (build.state === 'skipped') return `identical to #${build.relatedBuild}`;
  return `related to #${build.relatedBuild}`;
}

/**
 * One line on what went wrong: `step "npm test": exit code 1`; null when nothing did. A class the
 * state does not already imply leads (`[network] git fetch of … failed`), so a red row says at
 * once whether the code or the system is to blame.
 */
export function formatReason(build: Build): string | null {
  // The step is named once: most reasons name it already (`step "test" exited with code 1`).
  let failure = describeFailure(build.failedStep, build.reason);
  if (build.reason === null && build.relatedBuild !== null) {
    const related = formatRelated(build);
    failure = failure === null ? related : `${failure}: ${related}`;
  }
  const tag = notableClass(build);
  return tag === null ? failure : `[${tag}] ${failure ?? ''}`.trimEnd();
}

/** The failure class unless the state says it already (failed → user, cancelled, superseded). */
function notableClass(build: Build): string | null {
  const c = build.failureClass;
  if (c === null || c === build.state) return null;
  if (build.state === 'failed' && c === 'user') return null;
  // `timeout: job … timed out`, `network: git fetch …`: the reason names the class already.
  if (build.reason?.startsWith(`${c}:`) === true) return null;
  return c;
}

function percent(value: number | null, delta: number | null): string | null {
  if (value === null) return null;
  if (delta === null) return `${value.toFixed(1)}%`;
  const sign = delta > 0 ? '+' : delta < 0 ? '-' : '±';
  return `${value.toFixed(1)}% (${sign}${Math.abs(delta).toFixed(1)})`;
}

/** `lines 81.2% (+1.3), branches 70.0% (-0.5)`; null when there is no coverage figure. */
export function formatCoverage(coverage: CoverageSummary | null): string | null {
  if (coverage === null) return null;
  const parts: string[] = [];
  const lines = percent(coverage.lines, coverage.linesDelta);
  const branches = percent(coverage.branches, coverage.branchesDelta);
  if (lines !== null) parts.push(`lines ${lines}`);
  if (branches !== null) parts.push(`branches ${branches}`);
  return parts.length > 0 ? parts.join(', ') : null;
}

/** `1.2 MiB`, `340 KiB`, `12 B`. */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value >= 10 ? value.toFixed(0) : value.toFixed(1)} ${units[unit] ?? ''}`;
}

/** The body of `nightless show`: one build in detail, as lines. */
export function formatBuildDetail(build: BuildDetail, now: number, c: Colours): string[] {
  const fields: Array<[string, string]> = [
    ['state', c.state(build.state)],
    ['job', build.job],
    ['page', build.url],
    [
      'cause',
      formatCause(build.cause) + (build.forced && build.cause.kind !== 'manual' ? ' (forced)' : ''),
    ],
  ];
  fields.push([
    'inputs',
    build.inputs.length === 0
      ? '(none)'
      : build.inputs
          .map((i) => {
            const notes = [i.ref, i.origin].filter((n): n is string => n !== null);
            return `${i.source}@${shortVersion(i.version)}${notes.length > 0 ? c.dim(` (${notes.join(', ')})`) : ''}`;
          })
          .join('\n'),
  ]);
  fields.push(['queued', formatWhen(build.queuedAt, now)]);
  if (build.startedAt !== null) fields.push(['started', formatWhen(build.startedAt, now)]);
  if (build.finishedAt !== null) fields.push(['finished', formatWhen(build.finishedAt, now)]);
  const duration = buildDuration(build, now);
  if (duration !== null) {
    fields.push([
      'duration',
      build.finishedAt === null ? `${formatSpan(duration)} so far` : formatSpan(duration),
    ]);
  }
  if (build.failureClass !== null) fields.push(['failure class', build.failureClass]);
  if (build.failedStep !== null) fields.push(['failed step', build.failedStep]);
  if (build.reason !== null) fields.push(['reason', build.reason]);
  // The reason usually says the exit code already (`exit code 1`).
  if (build.exitCode !== null && build.state !== 'passed' && build.reason === null)
    fields.push(['exit code', String(build.exitCode)]);
  const related = formatRelated(build);
  if (related !== null) fields.push(['related', related]);
  const coverage = formatCoverage(build.coverage);
  if (coverage !== null) fields.push(['coverage', coverage]);
  if (build.outputs.length > 0) {
    fields.push([
      'outputs',
      build.outputs
        .map((o) => {
          const head = `${o.name}  output digest ${shortVersion(o.digest)}`;
          const size = o.files.reduce((sum, f) => sum + f.size, 0);
          if (o.files.length === 1)
            return `${head}  ${formatSize(size)}  ${o.files[0]?.path ?? ''}`;
          const files = o.files.map(
            (f) => `  ${f.path}  file sha256 ${shortVersion(f.digest)}  ${formatSize(f.size)}`,
          );
          return [`${head}  ${o.files.length} files, ${formatSize(size)}`, ...files].join('\n');
        })
        .join('\n'),
    ]);
  }
  if (build.attempt > 1) fields.push(['attempt', String(build.attempt)]);
  if (build.worker !== null) fields.push(['worker', build.worker]);
  fields.push(['fingerprint', c.dim(shortVersion(build.fingerprint))]);
  if (build.warnings.length > 0) {
    fields.push(['warnings', build.warnings.map((w) => c.yellow(`! ${w}`)).join('\n')]);
  }
  return [c.bold(`build #${build.id}`), ...renderFields(fields)];
}
