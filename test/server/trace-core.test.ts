import { describe, expect, it } from 'vitest';
import { buildFixture } from '../../src/testing/build-fixture.js';
import type { Build } from '../../src/core/build.js';
import {
  assembleTrace,
  estimateFinishAt,
  median,
  type TraceGraph,
  type TraceNode,
  type VersionRef,
} from '../../src/core/trace.js';

const build = buildFixture;

const v = (source: string, version: string): VersionRef => ({ source, version });
const key = (r: VersionRef) => `${r.source}@${r.version}`;

function graph(
  users: Array<[VersionRef, Build[]]>,
  produced: Array<[number, VersionRef[]]>,
): TraceGraph {
  return { usersOf: new Map(users.map(([r, b]) => [key(r), b])), producedBy: new Map(produced) };
}

/** `id(children…)` shape of a tree, for compact assertions. */
function shape(nodes: readonly TraceNode[]): string {
  return nodes
    .map((n) => (n.children.length ? `${n.build.id}(${shape(n.children)})` : `${n.build.id}`))
    .join(' ');
}

describe('median', () => {
  it.each([
    [[], null],
    [[5], 5],
    [[3, 1, 2], 2],
    [[4, 1, 3, 2], 2.5],
    [[1, 1000, 2], 2],
  ])('median(%j) = %j', (values, expected) => {
    expect(median(values)).toBe(expected);
  });
});

describe('estimateFinishAt', () => {
  it('adds the median to the start, or to now for a queued build', () => {
    expect(estimateFinishAt(build(1, 'a', 'running', 1000), [100, 300, 200], 5000)).toBe(1200);
    expect(estimateFinishAt(build(1, 'a', 'queued'), [100], 5000)).toBe(5100);
  });
  it('is null for finished builds and without history', () => {
    expect(estimateFinishAt(build(1, 'a', 'passed', 1000), [100], 5000)).toBeNull();
    expect(estimateFinishAt(build(1, 'a', 'running', 1000), [], 5000)).toBeNull();
    expect(estimateFinishAt(build(1, 'a', 'running', 1000), undefined, 5000)).toBeNull();
  });
});

describe('assembleTrace', () => {
  const root = v('app', 'c1');

  it('builds the chain and records the version each build was reached by', () => {
    const g = graph(
      [
        [root, [build(1, 'a')]],
        [v('a.out', 'd1'), [build(2, 'b'), build(3, 'c')]],
      ],
      [[1, [v('a.out', 'd1')]]],
    );
    const nodes = assembleTrace(g, root, () => null);
    expect(shape(nodes)).toBe('1(2 3)');
    expect(nodes[0]!.children[1]!.via).toEqual(v('a.out', 'd1'));
  });

  it('places a diamond build once, at its shallowest position', () => {
    // a → a.out → b, c; b → b.out → d; d also consumes a.out
    const d = build(4, 'd');
    const g = graph(
      [
        [root, [build(1, 'a')]],
        [v('a.out', 'x'), [build(2, 'b'), d]],
        [v('b.out', 'y'), [d]],
      ],
      [
        [1, [v('a.out', 'x')]],
        [2, [v('b.out', 'y')]],
      ],
    );
    expect(shape(assembleTrace(g, root, () => null))).toBe('1(2 4)');
  });

  it('survives a cycle in corrupt data and honours the depth bound', () => {
    const g = graph(
      [
        [root, [build(1, 'a')]],
        [v('a.out', 'x'), [build(2, 'b')]],
        [v('b.out', 'y'), [build(1, 'a'), build(3, 'c')]],
        [v('c.out', 'z'), [build(4, 'd')]],
      ],
      [
        [1, [v('a.out', 'x')]],
        [2, [v('b.out', 'y')]],
        [3, [v('c.out', 'z'), root]],
      ],
    );
    expect(shape(assembleTrace(g, root, () => null))).toBe('1(2(3(4)))');
    expect(shape(assembleTrace(g, root, () => null, 2))).toBe('1(2)');
  });

  it('asks the estimator for every node', () => {
    const g = graph([[root, [build(1, 'a', 'running', 10)]]], []);
    expect(assembleTrace(g, root, (b) => b.id * 100)[0]!.estimatedFinishAt).toBe(100);
  });
});
