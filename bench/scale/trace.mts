/**
 * `--trace` of bench/scale: which statements one decision sends to PostgreSQL, how long each
 * round trip takes, and the plan of each (EXPLAIN ANALYZE inside a rolled-back transaction).
 * Measures what the decision writer costs; never part of the timed rounds.
 */
import pg from 'pg';
import { percentile } from '../scheduler/lib.mjs';

interface Sent {
  readonly text: string;
  readonly values: readonly unknown[];
  readonly ms: number;
}

let recording: Sent[] | null = null;

/**
 * Wraps `pg.Client#query` (the pool's clients use it) so that, while {@link record} runs, every
 * statement text, its parameters and its round-trip time are kept. Installed once per process.
 */
export function installTrace(): void {
  const proto = pg.Client.prototype as unknown as {
    query: (...args: unknown[]) => unknown;
  };
  const original = proto.query;
  proto.query = function (this: unknown, ...args: unknown[]) {
    const result = original.apply(this, args);
    const sink = recording;
    if (sink === null || !(result instanceof Promise)) return result;
    const cfg = args[0];
    const text = typeof cfg === 'string' ? cfg : ((cfg as { text?: string }).text ?? '?');
    const values =
      (Array.isArray(args[1]) ? args[1] : (cfg as { values?: unknown[] }).values) ?? [];
    const start = performance.now();
    return result.then((r: unknown) => {
      sink.push({ text, values, ms: performance.now() - start });
      return r;
    });
  };
}

/** The statements `work` sent, in order, and how long it took. */
export async function record(work: () => Promise<void>): Promise<{ sent: Sent[]; wall: number }> {
  const sink: Sent[] = [];
  recording = sink;
  const start = performance.now();
  try {
    await work();
  } finally {
    recording = null;
  }
  return { sent: sink, wall: performance.now() - start };
}

const short = (sql: string) => sql.replace(/\s+/g, ' ').slice(0, 110);

/**
 * A summary of `perDecision` (the statements of each traced decision): statements per decision,
 * and per statement text its count, p50 and p99 round trip and the sum of their medians.
 */
export function summarize(
  perDecision: readonly (readonly Sent[])[],
  walls: readonly number[],
): string {
  const counts = perDecision.map((s) => s.length).sort((a, b) => a - b);
  const wall = [...walls].sort((a, b) => a - b);
  const byText = new Map<string, number[]>();
  for (const sent of perDecision)
    for (const s of sent) byText.set(s.text, [...(byText.get(s.text) ?? []), s.ms]);
  const lines = [
    `statements per decision: p50 ${percentile(counts, 50)}, max ${counts.at(-1)}; ` +
      `decide + commit p50 ${percentile(wall, 50).toFixed(3)} ms, p99 ${percentile(wall, 99).toFixed(3)} ms`,
    '  per statement, from sending it to its answer (pipelined: the waits overlap):',
  ];
  let sum = 0;
  for (const [text, times] of byText) {
    times.sort((a, b) => a - b);
    const p50 = percentile(times, 50);
    sum += (p50 * times.length) / perDecision.length;
    lines.push(
      `  ${(times.length / perDecision.length).toFixed(2)}×/decision  p50 ${p50.toFixed(3)} ms  ` +
        `p99 ${percentile(times, 99).toFixed(3)} ms  ${short(text)}`,
    );
  }
  lines.push(`  sum of the p50s per decision: ${sum.toFixed(3)} ms`);
  return lines.join('\n');
}

/**
 * EXPLAIN (ANALYZE) of every distinct statement of `sent` with the parameters it was sent with,
 * in one transaction that is rolled back (each in a savepoint, so one that fails, e.g. the second
 * insert of the same version, does not hide the rest).
 */
export async function explain(url: string, schema: string, sent: readonly Sent[]): Promise<string> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    query_timeout: 30_000,
    options: `-c search_path=${schema}`,
  });
  await client.connect();
  const out: string[] = [];
  try {
    await client.query('begin');
    const seen = new Set<string>();
    for (const s of sent) {
      if (seen.has(s.text) || /^(begin|commit|rollback)/i.test(s.text.trim())) continue;
      seen.add(s.text);
      await client.query('savepoint x');
      try {
        const { rows } = await client.query<{ 'QUERY PLAN': string }>(
          `explain (analyze, buffers, costs off) ${s.text}`,
          [...s.values],
        );
        out.push(`-- ${short(s.text)}`, ...rows.map((r) => `   ${r['QUERY PLAN']}`));
        await client.query('release savepoint x');
      } catch (err) {
        out.push(`-- ${short(s.text)}`, `   (not explained: ${(err as Error).message})`);
        await client.query('rollback to savepoint x');
      }
    }
    await client.query('rollback');
  } finally {
    await client.end();
  }
  return out.join('\n');
}
