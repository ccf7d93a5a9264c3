import type { DecisionRecord } from '../../api/types.js';
import type { Colours } from './colour.js';
import { renderTable } from './table.js';
import { formatTimestamp } from './time.js';
import { sourceAtVersion } from './version.js';

/** Rules that queued a build, highlighted so the eye finds them in a long log. */
const BUILDING_RULES = new Set(['built', 'new-version', 'forced', 'definition-changed', 'settled']);

/** `nightless why`: the decision log as the server sent it (newest first). */
export function formatDecisions(decisions: readonly DecisionRecord[], c: Colours): string[] {
  if (decisions.length === 0) return [c.dim('(no decisions recorded)')];
  const rows = decisions.map((d) => [
    formatTimestamp(d.at),
    BUILDING_RULES.has(d.rule) ? c.bold(d.rule) : d.rule,
    d.source === null ? '' : d.version === null ? d.source : sourceAtVersion(d.source, d.version),
    d.buildId === null ? '' : `#${d.buildId}`,
    d.detail,
  ]);
  return renderTable(['TIME', 'RULE', 'INPUT', 'BUILD', 'DETAIL'], rows);
}

/**
 * What `nightless trigger` says when nothing was queued: each decision's detail, with the way out
 * (`--force`) when the reason is that these inputs were built already.
 */
export function explainNoBuild(
  job: string,
  decisions: readonly DecisionRecord[],
  forced: boolean,
): string[] {
  const mine = decisions.filter((d) => d.job === job || d.job === null);
  const shown = mine.length > 0 ? mine : decisions;
  if (shown.length === 0) return [`${job}: nothing was queued`];
  return shown.map((d) => {
    const alreadyBuilt = d.rule === 'same-fingerprint';
    const hint =
      alreadyBuilt && !forced && !d.detail.includes('--force') ? '; use --force to rebuild' : '';
    // The server's details often start with the job's name already ("build already built...").
    const name = d.job ?? job;
    const prefixed = d.detail.startsWith(`${name} `) || d.detail.startsWith(`${name}:`);
    return `${prefixed ? '' : `${name}: `}${d.detail}${hint}`;
  });
}

/**
 * The build a decision refers to: its `buildId`, else a `build #N` its detail names (the
 * "already built" decision may carry the identical build only in its words).
 */
export function decisionBuild(decision: DecisionRecord): number | null {
  if (decision.buildId !== null) return decision.buildId;
  const m = /\bbuild #(\d+)\b/.exec(decision.detail);
  return m?.[1] === undefined ? null : Number(m[1]);
}
