/**
 * Scenario (d), run in a child process (`node --import tsx --expose-gc`):
 *   rss-child.mts engine <db> <jobs>   starts the engine on an existing store with the job pipeline
 *   rss-child.mts idle <db>            opens the same file with bare better-sqlite3 (baseline)
 * Prints one JSON line: RSS and heap after GC.
 */
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';

const [mode, dbPath, jobsArg] = process.argv.slice(2);

function gcHard(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc');
  for (let i = 0; i < 3; i++) gc();
}

async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 200));
  gcHard();
  await new Promise((r) => setTimeout(r, 50));
  gcHard();
}

if (!dbPath) throw new Error('usage: rss-child.mts engine|idle <db> [jobs]');

if (mode === 'idle') {
  const db = new BetterSqlite3(dbPath);
  db.pragma('journal_mode = WAL');
  db.prepare('select count(*) from builds').get();
  await settle();
  const m = process.memoryUsage();
  console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, startMs: 0 }));
  db.close();
} else if (mode === 'engine') {
  const { makePipeline, startEngine } = await import('./lib.mjs');
  const jobs = Number(jobsArg ?? 10_000);
  const pipeline = makePipeline(jobs, (i) => `s${i}`);
  const t = performance.now();
  const h = await startEngine(pipeline, dirname(dbPath));
  const startMs = performance.now() - t;
  const counts = await h.store.read.countBuildsByState();
  await settle();
  const m = process.memoryUsage();
  console.log(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, startMs, counts }));
  await h.close();
} else {
  throw new Error(`unknown mode ${mode}`);
}
