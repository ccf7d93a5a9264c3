import type { Build } from '../../core/build.js';
import { formatDuration } from '../../executor/format-duration.js';
import type { OutboxType } from '../../store/ports.js';

/** Forge-neutral commit state; each forge maps it to its own words. */
export type CommitState = 'pending' | 'running' | 'success' | 'failure' | 'error' | 'cancelled';

export interface CommitStatus {
  readonly state: CommitState;
  /** At most 140 characters (GitHub's limit). */
  readonly description: string;
}

/**
 * The status a lifecycle change sets: pending on queued, running on started, the result on
 * finished. A skip (DESIGN rule 7) carries the identical build's result, so checks never hang.
 */
export function statusOf(type: OutboxType, build: Build, related: Build | null): CommitStatus {
  switch (type) {
    case 'queued':
      return { state: 'pending', description: `queued: build #${build.id}` };
    case 'started':
      return { state: 'running', description: `running: build #${build.id}` };
    case 'finished':
      return finishedStatus(build);
    case 'superseded':
      return {
        state: 'cancelled',
        description: clip(build.reason ?? `superseded by build #${build.relatedBuild ?? '?'}`),
      };
    case 'cancelled':
      return { state: 'cancelled', description: clip(build.reason ?? 'cancelled') };
    case 'skipped': {
      const id = build.relatedBuild ?? related?.id;
      if (!related || related.state === 'queued' || related.state === 'running')
        return { state: 'pending', description: `identical to build #${id ?? '?'}: not finished` };
      const base = finishedStatus(related);
      return {
        state: base.state,
        description: clip(`identical to build #${related.id}: ${base.description}`),
      };
    }
  }
}

function finishedStatus(b: Build): CommitStatus {
  const took =
    b.startedAt !== null && b.finishedAt !== null
      ? ` in ${formatDuration(b.finishedAt - b.startedAt)}`
      : '';
  const cov = coverageText(b);
  switch (b.state) {
    case 'passed':
      return { state: 'success', description: clip(`passed${took}${cov}`) };
    case 'failed':
      return {
        state: 'failure',
        description: clip(
          `failed${classTag(b)}${b.failedStep ? ` at ${b.failedStep}` : ''}${took}${cov}`,
        ),
      };
    case 'error':
      return {
        state: 'error',
        description: clip(`error${classTag(b)}: ${b.reason ?? 'infrastructure'}`),
      };
    case 'cancelled':
    case 'superseded':
      return { state: 'cancelled', description: clip(b.reason ?? b.state) };
    case 'skipped':
    case 'queued':
    case 'running':
      return { state: 'pending', description: b.state };
  }
}

/** ` [network]`: whose failure it is, so a red check says at once whether to look at the code. */
function classTag(b: Build): string {
  const c = b.failureClass;
  // `error: network: git fetch …` names the class already; say it once.
  if (c === null || b.reason?.startsWith(`${c}:`) === true) return '';
  return ` [${c}]`;
}

/** ` · lines 81.2% (+1.3)`, or nothing without coverage. */
function coverageText(b: Build): string {
  const lines = b.coverage?.lines;
  if (lines === null || lines === undefined) return '';
  const d = b.coverage?.linesDelta;
  const delta = d === null || d === undefined ? '' : ` (${d >= 0 ? '+' : ''}${round(d)})`;
  return ` · lines ${round(lines)}%${delta}`;
}

function round(n: number): string {
  return (Math.round(n * 10) / 10).toFixed(1);
}

function clip(s: string): string {
  return s.length <= 140 ? s : `${s.slice(0, 139)}…`;
}
