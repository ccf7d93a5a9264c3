/**
 * Long tasks in a CPU profile: spans of consecutive non-idle samples (the event loop busy without
 * a break), the ones over a threshold counted, the longest listed with what they spent time in.
 * Samples, not wall time, so the figures hold on a loaded machine too (a span can only look longer
 * when the process is descheduled mid-task, never shorter).
 *
 *   npx tsx bench/ingest/long-tasks.mts FILE.cpuprofile... [--over-ms=5] [--top=8]
 *
 * Profiles: `NL_BENCH_CPU_PROF=DIR npx tsx bench/ingest/run.mts --rate-only ...`, or any
 * `node --cpu-prof` output.
 */
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const argv = process.argv.slice(2);
const opt = (name: string, def: number): number =>
  Number(argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? def);
const OVER_MS = opt('over-ms', 5);
const TOP = opt('top', 8);
const files = argv.filter((a) => !a.startsWith('--'));

const frameName = (n: ProfileNode): string => {
  const { functionName, url, lineNumber } = n.callFrame;
  const file = url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
  return `${functionName || '(anonymous)'}${file ? ` ${file}:${lineNumber + 1}` : ''}`;
};

for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const isIdle = (id: number): boolean => byId.get(id)?.callFrame.functionName === '(idle)';
  /** The innermost frame of the project's own code (src/), else the top frame. */
  const ownFrame = (id: number): string => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (n && n.callFrame.url.includes('/src/')) return frameName(n);
    }
    return frameName(byId.get(id) as ProfileNode);
  };

  // Sample i lasts until sample i + 1 (its delta). With a ticks file (the bench's 1 ms ticker),
  // a long task is a gap between two ticks: the loop could not turn; else a run of non-idle
  // samples (which can join tasks the loop ran back to back without waiting).
  interface Span {
    startMs: number;
    ms: number;
    samples: number[];
  }
  const at: number[] = [];
  let t = p.startTime;
  let busyMs = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i] ?? 0;
    at.push(t);
    if (!isIdle(p.samples[i] as number)) busyMs += (p.timeDeltas[i + 1] ?? 0) / 1000;
  }
  const spans: Span[] = [];
  const ticksFile = file.replace(/\.cpuprofile$/, '.ticks.json');
  if (existsSync(ticksFile)) {
    const ticks = JSON.parse(readFileSync(ticksFile, 'utf8')) as number[];
    let j = 0;
    for (let k = 1; k < ticks.length; k++) {
      const [a, b] = [ticks[k - 1] as number, ticks[k] as number];
      const samples: number[] = [];
      while (j < at.length && (at[j] as number) < a) j++;
      for (let x = j; x < at.length && (at[x] as number) < b; x++)
        if (!isIdle(p.samples[x] as number)) samples.push(x);
      spans.push({ startMs: (a - p.startTime) / 1000, ms: (b - a) / 1000, samples });
    }
  } else {
    let cur: Span | null = null;
    for (let i = 0; i < p.samples.length; i++) {
      if (isIdle(p.samples[i] as number)) {
        if (cur) spans.push(cur);
        cur = null;
        continue;
      }
      cur ??= { startMs: ((at[i] as number) - p.startTime) / 1000, ms: 0, samples: [] };
      cur.ms += (p.timeDeltas[i + 1] ?? 0) / 1000;
      cur.samples.push(i);
    }
    if (cur) spans.push(cur);
  }
  const wallS = (p.endTime - p.startTime) / 1e6;
  const long = spans.filter((s) => s.ms > OVER_MS).sort((a, b) => b.ms - a.ms);
  const busyIn = (s: Span): number =>
    s.samples.reduce((a, i) => a + (p.timeDeltas[i + 1] ?? 0) / 1000, 0);
  const tally = (ss: readonly Span[], key: (id: number) => string): [string, number][] => {
    const m = new Map<string, number>();
    for (const s of ss)
      for (const i of s.samples) {
        const k = key(p.samples[i] as number);
        m.set(k, (m.get(k) ?? 0) + (p.timeDeltas[i + 1] ?? 0) / 1000);
      }
    return [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP);
  };
  const show = (rows: [string, number][]): string =>
    rows.map(([k, ms]) => `      ${ms.toFixed(1).padStart(7)} ms  ${k}`).join('\n');

  console.log(`${file}: ${wallS.toFixed(1)} s, busy ${(busyMs / 1000).toFixed(2)} s`);
  console.log(
    `  spans > ${OVER_MS} ms: ${long.length} (${((long.length * 10) / wallS).toFixed(1)} per 10 s), ` +
      `max ${(long[0]?.ms ?? 0).toFixed(1)} ms; longest: ${long
        .slice(0, 10)
        .map(
          (s) =>
            `${s.ms.toFixed(1)}@${(s.startMs / 1000).toFixed(2)}s(busy ${busyIn(s).toFixed(1)})`,
        )
        .join(' ')}`,
  );
  if (long.length === 0) continue;
  console.log(
    `    in all of them, by top frame:\n${show(tally(long, (id) => frameName(byId.get(id) as ProfileNode)))}`,
  );
  console.log(`    by innermost src/ frame:\n${show(tally(long, ownFrame))}`);
  for (const s of long.slice(0, 3)) {
    console.log(
      `    span ${s.ms.toFixed(1)} ms at ${(s.startMs / 1000).toFixed(2)} s, by src/ frame:`,
    );
    console.log(show(tally([s], ownFrame)));
  }
}
