/**
 * A layered left-to-right layout in linear time, for pipelines too large for dagre to lay out
 * quickly (dagre's ranking and crossing minimisation take most of a second for 400 nodes on a
 * busy machine; bench/web). Rank = longest path from a root; within a rank, nodes are ordered
 * by the mean position of their predecessors (one barycentre sweep), which keeps chains
 * straight and siblings together. Edges are drawn straight between columns.
 */
export interface FastNode {
  readonly id: string;
  readonly width: number;
  readonly height: number;
}

export interface Placed {
  readonly x: number;
  readonly y: number;
}

const RANK_SEP = 46;
const NODE_SEP = 18;
const MARGIN = 16;

export function fastLayout(
  nodes: readonly FastNode[],
  edges: ReadonlyArray<{ from: string; to: string }>,
): { pos: Map<string, Placed>; width: number; height: number } {
  const preds = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  const succs = new Map<string, string[]>(nodes.map((n) => [n.id, []]));
  for (const e of edges) {
    preds.get(e.to)?.push(e.from);
    succs.get(e.from)?.push(e.to);
  }
  // Kahn's order; the pipeline is acyclic (config checks), anything left over goes last.
  const indegree = new Map(nodes.map((n) => [n.id, preds.get(n.id)?.length ?? 0]));
  const queue = nodes.filter((n) => indegree.get(n.id) === 0).map((n) => n.id);
  const rank = new Map<string, number>();
  for (let i = 0; i < queue.length; i++) {
    const id = queue[i] as string;
    const r = Math.max(0, ...(preds.get(id) ?? []).map((p) => (rank.get(p) ?? -1) + 1));
    rank.set(id, r);
    for (const s of succs.get(id) ?? []) {
      const d = (indegree.get(s) ?? 1) - 1;
      indegree.set(s, d);
      if (d === 0) queue.push(s);
    }
  }
  for (const n of nodes) if (!rank.has(n.id)) rank.set(n.id, 0);
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const ranks: string[][] = [];
  for (const n of nodes) (ranks[rank.get(n.id) ?? 0] ??= []).push(n.id);
  const order = new Map<string, number>();
  for (const ids of ranks) {
    if (!ids) continue;
    const key = (id: string) => {
      const ps = (preds.get(id) ?? []).map((p) => order.get(p) ?? 0);
      return ps.length === 0 ? 0 : ps.reduce((a, b) => a + b, 0) / ps.length;
    };
    ids.sort((a, b) => key(a) - key(b));
    ids.forEach((id, i) => order.set(id, i));
  }
  const pos = new Map<string, Placed>();
  let x = MARGIN;
  let height = 0;
  for (const ids of ranks) {
    if (!ids) continue;
    const colWidth = Math.max(...ids.map((id) => byId.get(id)?.width ?? 0));
    let y = MARGIN;
    for (const id of ids) {
      const n = byId.get(id) as FastNode;
      pos.set(id, { x: x + colWidth / 2, y: y + n.height / 2 });
      y += n.height + NODE_SEP;
    }
    height = Math.max(height, y);
    x += colWidth + RANK_SEP;
  }
  return { pos, width: x - RANK_SEP + MARGIN, height: height - NODE_SEP + MARGIN };
}
