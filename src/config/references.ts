import type { GraphJob } from './graph.js';
import { findCycles } from './graph.js';
import { didYouMean } from './names.js';
import type { Path } from './paths.js';
import type { RawProblem } from './zod-issues.js';
import { outputSourceName, splitOutputSource } from '../core/output-source.js';

/**
 * Input references and cycles, checked on the loosely-read tree so that they are reported even
 * when the schema found problems elsewhere in the file (all errors at once, not in rounds).
 */

export interface LooseJob extends GraphJob {
  readonly outputs: readonly string[];
}

export interface LooseGraph {
  readonly sources: readonly string[];
  readonly jobs: readonly LooseJob[];
}

const record = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

export function looseGraph(data: unknown): LooseGraph {
  const root = record(data);
  const jobs = Object.entries(record(root.jobs)).map(([name, def]): LooseJob => {
    const j = record(def);
    const inputs = Array.isArray(j.inputs)
      ? j.inputs.map((i) => (typeof i === 'string' ? i : ''))
      : [];
    return { name, inputs, outputs: Object.keys(record(j.outputs)) };
  });
  return { sources: Object.keys(record(root.sources)), jobs };
}

/** The upstream job of `job.output` when that job and output exist. */
export function upstreamResolver(graph: LooseGraph): (input: string) => string | null {
  const outputs = new Map(graph.jobs.map((j) => [j.name, new Set(j.outputs)]));
  return (input) => {
    const out = splitOutputSource(input);
    if (!out) return null;
    return outputs.get(out.job)?.has(out.output) === true ? out.job : null;
  };
}

export function checkReferences(graph: LooseGraph): RawProblem[] {
  const problems: RawProblem[] = [];
  const jobs = new Map(graph.jobs.map((j) => [j.name, j]));
  const sources = new Set(graph.sources);
  const upstreamOf = upstreamResolver(graph);

  for (const job of graph.jobs) {
    const seen = new Set<string>();
    job.inputs.forEach((input, i) => {
      if (input === '') return; // not a string: the schema reports it
      const path: Path = ['jobs', job.name, 'inputs', i];
      if (seen.has(input)) {
        problems.push({ path, message: `input "${input}" is listed twice` });
        return;
      }
      seen.add(input);
      if (sources.has(input) || upstreamOf(input) !== null) return;
      problems.push({ path, message: unknownInput(input, graph, jobs) });
    });
  }

  for (const cycle of findCycles(graph.jobs, upstreamOf)) {
    problems.push({
      path: ['jobs', cycle.job, 'inputs', cycle.inputIndex],
      message: `dependency cycle: ${cycle.jobs.join(' -> ')}`,
    });
  }
  return problems;
}

function unknownInput(
  input: string,
  graph: LooseGraph,
  jobs: ReadonlyMap<string, LooseJob>,
): string {
  const out = splitOutputSource(input);
  if (!out) {
    const hint = didYouMean(input, graph.sources);
    if (hint === '' && jobs.has(input)) {
      const first = jobs.get(input)?.outputs[0];
      return first !== undefined
        ? `unknown source "${input}" ("${input}" is a job: consume one of its outputs, e.g. "${outputSourceName(input, first)}")`
        : `unknown source "${input}" ("${input}" is a job and declares no outputs)`;
    }
    return `unknown source "${input}"${hint}`;
  }
  const { job: jobName, output } = out;
  const job = jobs.get(jobName);
  if (job === undefined)
    return `unknown job "${jobName}" in "${input}"${didYouMean(jobName, jobs.keys())}`;
  if (job.outputs.length === 0)
    return `job "${jobName}" declares no outputs (add "outputs:" to it)`;
  return `job "${jobName}" has no output "${output}"${didYouMean(output, job.outputs)}`;
}
