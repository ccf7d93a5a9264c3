import { Graph, layout } from '@dagrejs/dagre';
import type { Job, Source } from '../api-types.js';
import { fastLayout } from './fast-layout.js';

/** Above this many nodes dagre is too slow for a page that must be usable within a second. */
export const DAGRE_MAX_NODES = 150;

export type NodeKind = 'source' | 'job' | 'output';

export interface GraphNode {
  readonly id: string;
  readonly kind: NodeKind;
  readonly label: string;
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

export interface GraphEdge {
  readonly from: string;
  readonly to: string;
  readonly points: ReadonlyArray<{ x: number; y: number }>;
}

export interface Laid {
  readonly nodes: GraphNode[];
  readonly edges: GraphEdge[];
  readonly width: number;
  readonly height: number;
}

export const SIZES: Readonly<Record<NodeKind, { width: number; height: number }>> = {
  source: { width: 150, height: 40 },
  job: { width: 190, height: 62 },
  output: { width: 130, height: 30 },
};

/**
 * sources → jobs → outputs → jobs, laid out left to right by dagre. Depends only on the
 * pipeline's shape (names, inputs, outputs), so the page lays out once and live updates only
 * repaint node states.
 */
export function layoutPipeline(jobs: readonly Job[], sources: readonly Source[]): Laid {
  const g = new Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 18, ranksep: 46, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  const add = (id: string, kind: NodeKind, label: string) =>
    g.setNode(id, { ...SIZES[kind], kind, label });
  const outputs = new Set<string>();
  for (const s of sources) if (s.kind !== 'job-output') add(`s:${s.name}`, 'source', s.name);
  for (const j of jobs) {
    add(`j:${j.name}`, 'job', j.name);
    for (const o of j.outputs) {
      outputs.add(`${j.name}.${o}`);
      add(`o:${j.name}.${o}`, 'output', o);
      g.setEdge(`j:${j.name}`, `o:${j.name}.${o}`);
    }
  }
  for (const j of jobs) {
    for (const input of j.inputs) {
      const from = outputs.has(input) ? `o:${input}` : `s:${input}`;
      if (!g.hasNode(from)) add(from, 'source', input);
      g.setEdge(from, `j:${j.name}`);
    }
  }
  if (g.nodeCount() > DAGRE_MAX_NODES) return fast(g);
  layout(g);
  const nodes: GraphNode[] = g.nodes().map((id) => {
    const n = g.node(id) as unknown as {
      x: number;
      y: number;
      width: number;
      height: number;
      kind: NodeKind;
      label: string;
    };
    return { id, kind: n.kind, label: n.label, x: n.x, y: n.y, width: n.width, height: n.height };
  });
  const edges: GraphEdge[] = g.edges().map((e) => ({
    from: e.v,
    to: e.w,
    points: (g.edge(e) as { points?: Array<{ x: number; y: number }> }).points ?? [],
  }));
  const label = g.graph() as { width?: number; height?: number };
  return { nodes, edges, width: label.width ?? 0, height: label.height ?? 0 };
}

type NodeLabel = { width: number; height: number; kind: NodeKind; label: string };

function fast(g: Graph): Laid {
  const ids = g.nodes();
  const labels = new Map(ids.map((id) => [id, g.node(id) as unknown as NodeLabel]));
  const edgeList = g.edges().map((e) => ({ from: e.v, to: e.w }));
  const { pos, width, height } = fastLayout(
    ids.map((id) => ({
      id,
      width: labels.get(id)?.width ?? 0,
      height: labels.get(id)?.height ?? 0,
    })),
    edgeList,
  );
  const nodes = ids.map((id) => {
    const l = labels.get(id) as NodeLabel;
    const p = pos.get(id) ?? { x: 0, y: 0 };
    return { id, kind: l.kind, label: l.label, x: p.x, y: p.y, width: l.width, height: l.height };
  });
  const at = new Map(nodes.map((n) => [n.id, n]));
  const edges = edgeList.map(({ from, to }) => {
    const a = at.get(from);
    const b = at.get(to);
    const points =
      a && b
        ? [
            { x: a.x + a.width / 2, y: a.y },
            { x: b.x - b.width / 2, y: b.y },
          ]
        : [];
    return { from, to, points };
  });
  return { nodes, edges, width, height };
}
