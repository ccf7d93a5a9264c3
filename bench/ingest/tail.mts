/**
 * `run.mts --tail`: where the slowest requests of an evenly paced run spent their time. The load
 * generator stamps each request's due time, the moment it got a connection and the end of its
 * response; the server (this process) stamps when its HTTP parser handed the request over and when
 * the response was written (Node's `http.server.request.start` / `http.server.response.finish`
 * diagnostics channels), plus a 1 ms ticker with the process's CPU time. Every clock is
 * `performance.timeOrigin + performance.now()` (epoch ms), comparable across the two processes.
 *
 * A request late by 100 ms while the event loop never stalled that long shows here as either
 * waiting for one of the 10 connections (the server answering slower than 500/s for a while: a
 * queue) or as time inside the handler (an await that did not return: the store's connection, a
 * lock), and the ticker says whether the process had the CPU meanwhile.
 */
import diagnostics_channel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { constants, performance, PerformanceObserver } from 'node:perf_hooks';
import { percentile } from '../lib/report.mjs';

/** Epoch milliseconds at sub-ms resolution, the same clock in every process. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** The generator's stamps for one request (epoch ms). */
export interface ClientStamps {
  readonly id: string;
  readonly due: number;
  /** When the generator sent it: late after `due` when the generator's own process stalled. */
  readonly fired: number;
  /** When it got a connection (all 10 busy: it waited here). */
  readonly socket: number;
  readonly end: number;
}

interface ServerStamps {
  start?: number;
  finish?: number;
}

const deliveryId = (req: IncomingMessage): string | undefined => {
  const id = req.headers['x-nightless-delivery'] ?? req.headers['x-github-delivery'];
  return typeof id === 'string' ? id : undefined;
};

// By name: the numbers differ between V8 versions (Node 20: 4 is a mark-compact, not 2).
const GC_KINDS = new Map<number, string>([
  [constants.NODE_PERFORMANCE_GC_MINOR, 'scavenge'],
  [constants.NODE_PERFORMANCE_GC_MAJOR, 'mark-compact'],
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL, 'incremental marking'],
  [constants.NODE_PERFORMANCE_GC_WEAKCB, 'weak callbacks'],
]);
const gcKind = (kind: number): string => GC_KINDS.get(kind) ?? `kind ${kind}`;

/** V8's collections that paused the main thread, from now until `stop` (epoch ms start, pause). */
export function observeGc(): { stop(): Gc[] } {
  const gcs: Gc[] = [];
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const kind = gcKind((e as unknown as { detail: { kind: number } }).detail.kind);
      gcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, kind });
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop: () => {
      observer.disconnect();
      return gcs;
    },
  };
}

/** Records the server side of a run until `stop`; `tailReport` joins it with the client's. */
export function startTailRecorder(): { stop(): TailRecording } {
  const server = new Map<string, ServerStamps>();
  const stamp = (req: IncomingMessage, key: keyof ServerStamps): void => {
    const id = deliveryId(req);
    if (id === undefined) return;
    const s = server.get(id) ?? {};
    s[key] = wallMs();
    server.set(id, s);
  };
  const onStart = (m: unknown): void => stamp((m as { request: IncomingMessage }).request, 'start');
  const onFinish = (m: unknown): void =>
    stamp((m as { request: IncomingMessage }).request, 'finish');
  diagnostics_channel.subscribe('http.server.request.start', onStart);
  diagnostics_channel.subscribe('http.server.response.finish', onFinish);
  const ticks: number[] = [];
  const cpu: number[] = [];
  const run: number[] = [];
  const queued: number[] = [];
  // The main thread's time on a CPU and waiting for one (Linux schedstat, ns): a loop gap with
  // neither was spent asleep in a system call; one on a CPU was work (or the VM's host taking
  // the vCPU away, which the guest counts as running).
  const schedstat = existsSync('/proc/thread-self/schedstat') ? '/proc/thread-self/schedstat' : '';
  const gc = observeGc();
  const ticker = setInterval(() => {
    ticks.push(wallMs());
    const c = process.cpuUsage();
    cpu.push((c.user + c.system) / 1000);
    const [r = NaN, q = NaN] = schedstat
      ? readFileSync(schedstat, 'utf8').split(' ').map(Number)
      : [];
    run.push(r / 1e6);
    queued.push(q / 1e6);
  }, 1);
  return {
    stop: () => {
      clearInterval(ticker);
      const gcs = gc.stop();
      diagnostics_channel.unsubscribe('http.server.request.start', onStart);
      diagnostics_channel.unsubscribe('http.server.response.finish', onFinish);
      return { server, ticks, cpu, run, queued, gcs };
    },
  };
}

export interface TailRecording {
  readonly server: ReadonlyMap<string, ServerStamps>;
  /** Ticker times (epoch ms) and the process's CPU ms at each. */
  readonly ticks: readonly number[];
  readonly cpu: readonly number[];
  /** The main thread's ms on a CPU and waiting in the run queue at each tick (NaN: not Linux). */
  readonly run: readonly number[];
  readonly queued: readonly number[];
  /** V8's collections that paused the main thread (epoch ms start, its pause). */
  readonly gcs: readonly Gc[];
}

export interface Gc {
  readonly at: number;
  readonly ms: number;
  /** `scavenge`, `mark-compact`, `incremental marking` or `weak callbacks`. */
  readonly kind: string;
}

const pct = (xs: readonly number[], p: number): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    p,
  );
const f1 = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '—');

/** Lines for the bench's log: the slowest 1 %'s breakdown and the 25 ms windows around the worst. */
export function tailReport(client: readonly ClientStamps[], rec: TailRecording): string[] {
  const rows = client.map((c) => ({ ...c, ...rec.server.get(c.id), latency: c.end - c.due }));
  const p99 = pct(
    rows.map((r) => r.latency),
    99,
  );
  const tail = rows.filter((r) => r.latency >= p99);
  const part = (name: string, f: (r: (typeof rows)[number]) => number): string => {
    const xs = tail.map(f).filter(Number.isFinite);
    return `${name} ${f1(pct(xs, 50))} / ${f1(Math.max(...xs))}`;
  };
  const lines = [
    `tail: ${tail.length} requests ≥ p99 ${f1(p99)} ms; ms p50 / max of each part: ` +
      [
        part('waiting for a connection', (r) => r.socket - r.due),
        part('until the server read it', (r) => (r.start ?? NaN) - r.socket),
        part('in the handler', (r) => (r.finish ?? NaN) - (r.start ?? NaN)),
        part('response to the client', (r) => r.end - (r.finish ?? NaN)),
      ].join('; '),
  ];
  const span = (xs: readonly number[]): number => xs[xs.length - 1]! - xs[0]!;
  const wall = span(rec.ticks);
  lines.push(
    `main thread over the run: on a CPU ${f1((100 * span(rec.run)) / wall)} %, waiting for one ` +
      `${f1((100 * span(rec.queued)) / wall)} % of the time; the process's other threads used ` +
      `${f1((100 * (span(rec.cpu) - span(rec.run))) / wall)} % of a CPU`,
  );
  const worst = rows.reduce((a, b) => (b.latency > a.latency ? b : a), rows[0]!);
  const from = worst.due - 300;
  const to = worst.end + 50;
  const step = 25;
  lines.push(
    `around the worst (${f1(worst.latency)} ms), ${step} ms windows: due, answered, ` +
      "longest handler, the generator's latest send; the longest loop gap ending in it: its ms, " +
      "the main thread's ms on a CPU / waiting for one in it, the process's CPU ms in it; " +
      'the GC pauses starting in it',
  );
  for (let w = from; w < to; w += step) {
    const inW = (t: number | undefined): boolean => t !== undefined && t >= w && t < w + step;
    const due = rows.filter((r) => inW(r.due)).length;
    const answered = rows.filter((r) => inW(r.finish)).length;
    const handler = Math.max(
      0,
      ...rows.filter((r) => inW(r.finish)).map((r) => r.finish! - (r.start ?? r.finish!)),
    );
    const late = Math.max(0, ...rows.filter((r) => inW(r.due)).map((r) => r.fired - r.due));
    let g = 0;
    let longest = 0;
    for (let i = 1; i < rec.ticks.length; i++) {
      const t = rec.ticks[i]!;
      if (t < w || t >= w + step || t - rec.ticks[i - 1]! <= longest) continue;
      longest = t - rec.ticks[i - 1]!;
      g = i;
    }
    const d = (xs: readonly number[]): string => (g > 0 ? f1(xs[g]! - xs[g - 1]!) : '—');
    lines.push(
      `  ${f1(w - worst.due).padStart(7)} ms: ${String(due).padStart(3)} due, ${String(answered).padStart(3)} answered, handler ${f1(handler).padStart(5)}, late ${f1(late).padStart(4)}; gap ${d(rec.ticks).padStart(5)}: on cpu ${d(rec.run).padStart(5)}, queued ${d(rec.queued).padStart(4)}, process ${d(rec.cpu).padStart(5)}` +
        rec.gcs
          .filter((x) => inW(x.at))
          .map((x) => `; ${x.kind} ${f1(x.ms)} ms`)
          .join(''),
    );
  }
  return lines;
}
