import { isFinished } from '../../core/build.js';
import type { ExpectedJob, TraceNode, TraceResponse } from '../../api/types.js';
import type { Colours } from './colour.js';
import { formatClock } from './time.js';
import { sourceAtVersion } from './version.js';

/** `build #42 passed 14:00:01→14:01:31`, `test #43 running 14:01:35→… (eta ~14:05:00)`. */
export function formatTraceNode(node: TraceNode, c: Colours): string {
  const b = node.build;
  let text = `${b.job} #${b.id} ${c.state(b.state)}`;
  if (b.startedAt !== null) {
    text += ` ${formatClock(b.startedAt)}→${b.finishedAt === null ? '…' : formatClock(b.finishedAt)}`;
  } else if (b.finishedAt !== null) {
    text += ` →${formatClock(b.finishedAt)}`;
  }
  if (node.reused !== null) {
    return `${b.job} #${b.id} ${c.state(b.state)} ${c.dim(`(identical output of #${node.reused.identicalOutputOf}, not rebuilt)`)}`;
  }
  if (!isFinished(b.state) && node.estimatedFinishAt !== null) {
    text += ` (eta ~${formatClock(node.estimatedFinishAt)})`;
  }
  return text;
}

function formatExpected(e: ExpectedJob, c: Colours): string {
  const eta =
    e.estimatedFinishAt === null ? 'no estimate yet' : `eta ~${formatClock(e.estimatedFinishAt)}`;
  return `${e.job} ${c.dim(`not queued yet (${eta})`)}`;
}

/**
 * The trace as a tree, one line per build. The root line names the version; a child that came in
 * through a job output names that output (`via build.dist@…`) so the chain is readable.
 */
export function formatTraceTree(trace: TraceResponse, c: Colours): string[] {
  const lines = [c.bold(sourceAtVersion(trace.source, trace.version))];
  if (trace.nodes.length === 0) lines.push(c.dim('(no builds used this version)'));
  const expected = (items: readonly ExpectedJob[], prefix: string): void => {
    items.forEach((e, i) => {
      const last = i === items.length - 1;
      lines.push(
        `${prefix}${last ? '└─ ' : '├─ '}${formatExpected(e, c)}${c.dim(` via ${e.via}`)}`,
      );
      expected(e.expected, prefix + (last ? '   ' : '│  '));
    });
  };
  const walk = (nodes: readonly TraceNode[], prefix: string, parentVia: string): void => {
    nodes.forEach((node, i) => {
      const last = i === nodes.length - 1;
      const via = sourceAtVersion(node.via.source, node.via.version);
      const note = via === parentVia ? '' : c.dim(` via ${via}`);
      lines.push(`${prefix}${last ? '└─ ' : '├─ '}${formatTraceNode(node, c)}${note}`);
      const inner = prefix + (last ? '   ' : '│  ');
      walk(node.children, inner, '');
      expected(node.expected, inner);
    });
  };
  walk(trace.nodes, '', sourceAtVersion(trace.source, trace.version));
  return lines;
}

/** Every build of the trace, depth first (for change detection in `trace --watch`). */
export function flattenTrace(nodes: readonly TraceNode[]): TraceNode[] {
  return nodes.flatMap((n) => [n, ...flattenTrace(n.children)]);
}

export function traceFinished(trace: TraceResponse): boolean {
  return flattenTrace(trace.nodes).every((n) => isFinished(n.build.state));
}
