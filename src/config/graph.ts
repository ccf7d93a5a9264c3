/**
 * The job graph: job B depends on job A when B consumes one of A's outputs (`A.dist`).
 * Pure functions over names; declaration order breaks ties so results are deterministic.
 */

export interface GraphJob {
  readonly name: string;
  /** Input source names in the order written. */
  readonly inputs: readonly string[];
}

export interface Cycle {
  /** The jobs in data-flow order, first repeated at the end: `[a, b, a]`. */
  readonly jobs: readonly string[];
  /** The job whose input closes the cycle, and the index of that input. */
  readonly job: string;
  readonly inputIndex: number;
}

/** The upstream job of an input (`build.dist` → `build`) when it is a job output. */
export type UpstreamOf = (input: string) => string | null;

/** Every distinct cycle, each reported once, starting at its earliest-declared job. */
export function findCycles(jobs: readonly GraphJob[], upstreamOf: UpstreamOf): Cycle[] {
  const byName = new Map(jobs.map((j) => [j.name, j]));
  const rank = new Map(jobs.map((j, i) => [j.name, i]));
  const state = new Map<string, 'active' | 'done'>();
  const stack: string[] = [];
  const cycles: Cycle[] = [];
  const seen = new Set<string>();

  const visit = (name: string): void => {
    state.set(name, 'active');
    stack.push(name);
    for (const input of byName.get(name)?.inputs ?? []) {
      const up = upstreamOf(input);
      if (up === null || !byName.has(up)) continue;
      if (state.get(up) === 'active') {
        // stack[k..] = up, …, name: each consumes the next one's output, so data flows backwards.
        const loop = stack.slice(stack.indexOf(up)).reverse();
        const cycle = rotateToEarliest(loop, rank);
        const key = [...cycle].sort().join('\0');
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(closingInput(cycle, byName, upstreamOf));
        }
      } else if (state.get(up) === undefined) {
        visit(up);
      }
    }
    stack.pop();
    state.set(name, 'done');
  };

  for (const j of jobs) if (state.get(j.name) === undefined) visit(j.name);
  return cycles;
}

/** `loop` is in data-flow order without repetition; start it at the earliest-declared job. */
function rotateToEarliest(loop: readonly string[], rank: ReadonlyMap<string, number>): string[] {
  let start = 0;
  loop.forEach((n, i) => {
    if ((rank.get(n) ?? 0) < (rank.get(loop[start] ?? '') ?? 0)) start = i;
  });
  return [...loop.slice(start), ...loop.slice(0, start)];
}

/** The cycle `a -> b -> a` is closed by a's input from b: locate the error there. */
function closingInput(
  loop: readonly string[],
  byName: ReadonlyMap<string, GraphJob>,
  upstreamOf: UpstreamOf,
): Cycle {
  const first = loop[0] ?? '';
  const last = loop[loop.length - 1] ?? '';
  const inputs = byName.get(first)?.inputs ?? [];
  const inputIndex = Math.max(
    0,
    inputs.findIndex((i) => upstreamOf(i) === last),
  );
  return { jobs: [...loop, first], job: first, inputIndex };
}

/** Kahn's algorithm, upstream first, declaration order among ready jobs. Assumes no cycle. */
export function topologicalOrder(jobs: readonly GraphJob[], upstreamOf: UpstreamOf): string[] {
  const names = new Set(jobs.map((j) => j.name));
  const deps = new Map<string, Set<string>>();
  for (const j of jobs) {
    const ups = new Set<string>();
    for (const input of j.inputs) {
      const up = upstreamOf(input);
      if (up !== null && names.has(up) && up !== j.name) ups.add(up);
    }
    deps.set(j.name, ups);
  }
  const order: string[] = [];
  const placed = new Set<string>();
  while (order.length < jobs.length) {
    const next = jobs.find(
      (j) => !placed.has(j.name) && [...(deps.get(j.name) ?? [])].every((d) => placed.has(d)),
    );
    if (next === undefined) break; // a cycle: reported elsewhere
    order.push(next.name);
    placed.add(next.name);
  }
  return order;
}

/** Source → consuming jobs in declaration order; every source gets an entry, even unused. */
export function consumersOf(
  sources: Iterable<string>,
  jobs: readonly GraphJob[],
): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const s of sources) map.set(s, []);
  for (const j of jobs) {
    for (const input of new Set(j.inputs)) map.get(input)?.push(j.name);
  }
  return map;
}
