/**
 * The main thread's own WAL checkpoints under a steady stream: one evenly paced generic run of
 * `run.mts` under `strace` (fsync and fdatasync only, so it barely slows the server), then the
 * syncs each thread made of the database's files. SQLite's backstop checkpoint (when the WAL
 * reaches `wal_autocheckpoint` pages) runs inside a commit on the main thread, so its syncs stall
 * every request; the checkpoint worker's do not.
 *
 *   npx tsx bench/ingest/backstop.mts [--duration-s=30]
 *
 * Needs `strace` (and ptrace allowed). Prints the run's latency row, then each burst of the main
 * thread's syncs (≥ 3 within 100 ms: a checkpoint's WAL sync, database sync and the WAL's
 * restart; the first burst is start-up's migrations) with its span and summed sync time, and the
 * worker's syncs. Not recorded in RESULTS.md by itself: it explains the ingest tail.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchArgs } from '../lib/cli.mjs';
import { percentile } from '../lib/report.mjs';

const durationS = Number(benchArgs().get('duration-s') ?? 30);
const runMts = fileURLToPath(new URL('./run.mts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nightless-backstop-'));
const trace = join(dir, 'strace.txt');

interface Sync {
  readonly tid: string;
  readonly file: string;
  readonly at: number;
  readonly ms: number;
}

/** `HH:MM:SS.micros` → seconds. */
const seconds = (t: string): number => {
  const [h, m, s] = t.split(':');
  return Number(h) * 3600 + Number(m) * 60 + Number(s);
};

/** The syncs of the server's database files, unfinished/resumed pairs joined. */
function syncs(text: string): Sync[] {
  const open = new Map<string, { file: string; at: number }>();
  const found: Sync[] = [];
  for (const line of text.split('\n')) {
    const m =
      /^(\d+)\s+(\S+)\s+(?:f(?:data)?sync\(\d+<([^>]+)>(.*)|<\.\.\. f(?:data)?sync resumed>(.*))$/.exec(
        line,
      );
    if (!m) continue;
    const [, tid, time, file, rest, resumed] = m as unknown as (string | undefined)[];
    const took = /<([\d.]+)>$/.exec((rest ?? resumed ?? '').trim());
    if (file !== undefined && rest?.includes('<unfinished')) {
      open.set(tid!, { file, at: seconds(time!) });
      continue;
    }
    const started = file !== undefined ? { file, at: seconds(time!) } : open.get(tid!);
    open.delete(tid!);
    if (!started || !took || !/nightless\.db(-wal|-journal)?$/.test(started.file)) continue;
    found.push({ tid: tid!, file: started.file, at: started.at, ms: Number(took[1]) * 1000 });
  }
  return found;
}

try {
  const out = execFileSync(
    'strace',
    ['-f', '-qq', '--seccomp-bpf', '-y', '-T', '-tt', '-e', 'trace=fsync,fdatasync', '-o', trace]
      .concat('--', process.execPath, '--import', 'tsx', runMts)
      .concat('--only=generic', '--rate-only', '--paces=even', '--rate-runs=1')
      .concat(`--duration-s=${durationS}`, '--no-write'),
    { encoding: 'utf8', timeout: (durationS + 300) * 1000, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const row = out.split('\n').find((l) => l.includes('`POST /hooks/generic` latency'));
  console.log(`run: ${row?.split('|').slice(3, 7).join('|').trim() ?? '(no latency row)'}`);
  const all = syncs(readFileSync(trace, 'utf8'));
  // Migrations run on the main connection: the first sync of the rollback journal is its thread.
  const main = all.find((s) => s.file.endsWith('-journal'))?.tid;
  const bursts: { from: number; to: number; ms: number; n: number }[] = [];
  for (const s of all.filter((x) => x.tid === main)) {
    const last = bursts.at(-1);
    if (last && s.at - last.to < 0.1) {
      last.to = s.at + s.ms / 1000;
      last.ms += s.ms;
      last.n++;
    } else bursts.push({ from: s.at, to: s.at + s.ms / 1000, ms: s.ms, n: 1 });
  }
  const f1 = (n: number) => n.toFixed(1);
  console.log('main thread, bursts of ≥ 3 syncs (span ms / summed sync ms):');
  for (const b of bursts.filter((x) => x.n >= 3))
    console.log(`  ${f1((b.to - b.from) * 1000)} / ${f1(b.ms)} (${b.n} syncs)`);
  const worker = all
    .filter((s) => s.tid !== main)
    .map((s) => s.ms)
    .sort((a, b) => a - b);
  const q = (p: number) => f1(percentile(worker, p));
  console.log(
    `other threads: ${worker.length} syncs, p50 ${q(50)} / p90 ${q(90)} / max ${q(100)} ms`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
