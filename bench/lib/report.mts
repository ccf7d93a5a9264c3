import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';

/**
 * `2 × AMD EPYC, 23.5 GiB RAM, node v20.20.2, 100 \`/bin/true\` from bash in 264 ms`: the machine
 * a figure was measured on, and how fast it starts processes as the figure is written.
 */
export function machine(): string {
  const cpu =
    /^model name\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ??
    cpus()[0]?.model ??
    'unknown';
  return `${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, node ${process.version}, ${processStarts()}`;
}

/**
 * How long bash takes to run `/bin/true` 100 times, one after the other. VMs of the same name
 * have taken 72 to 420 ms for it here, drifting within an hour, and every floor a latency target
 * is set against (a fetch, a checkout, a step's shell) is a few process starts: without this
 * figure an absolute time from one day cannot be set beside another's.
 */
export function processStarts(): string {
  const started = performance.now();
  const r = spawnSync('bash', ['-c', 'for i in $(seq 100); do /bin/true; done'], {
    stdio: 'ignore',
    timeout: 30_000,
  });
  const ms = performance.now() - started;
  return r.status === 0
    ? `100 \`/bin/true\` from bash in ${ms.toFixed(0)} ms`
    : `100 \`/bin/true\` from bash failed (${r.error?.message ?? `exit ${r.status}`})`;
}

/** `0.8 / 1.3 / 1.6`: the 1, 5 and 15 minute load averages (the machine is shared). */
export function loadAverage(): string {
  return loadavg()
    .map((l) => l.toFixed(1))
    .join(' / ');
}

/** One line of a bench's table: what was measured against its target and its baseline. */
export interface FigureRow {
  readonly figure: string;
  readonly target: string;
  readonly measured: string;
  /** `null`: a figure without a target. */
  readonly met: boolean | null;
  readonly baseline: string;
  readonly ratio: string;
}

/** The markdown table of `rows`, as RESULTS.md shows it. */
export function figureTable(rows: readonly FigureRow[]): string {
  return [
    '| figure | target | measured | met | baseline (same run) | ratio |',
    '|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.figure} | ${r.target} | ${r.measured} | ${r.met === null ? '—' : r.met ? 'yes' : '**no**'} | ${r.baseline} | ${r.ratio} |`,
    ),
  ].join('\n');
}

/**
 * The middle value of `xs` in any order (of an even count, the upper of the two middle ones, so
 * always a measured value); NaN when empty.
 */
export function median(xs: readonly number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
}

/** The p-th percentile (nearest rank) of an ascending list; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
