import type { DecisionRecord } from '../../store/ports.js';
import type { Colours } from './colour.js';
import { renderTable } from './table.js';
import { formatTimestamp } from './time.js';
import { sourceAtVersion } from './version.js';

/** Rules that built something, highlighted so the eye finds them in a long log. */
const BUILDING_RULES = new Set(['new-version', 'forced', 'definition-changed', 'settled']);

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
    const alreadyBuilt = d.rule === 'built' || d.rule === 'same-fingerprint';
    const hint =
      alreadyBuilt && !forced && !d.detail.includes('--force') ? '; use --force to rebuild' : '';
    return `${d.job ?? job}: ${d.detail}${hint}`;
  });
}
