/**
 * lead_time's store side: one sync asks about every awaited version (`TracePort.settleTraces`).
 *
 *   npx tsx bench/slo/settle.mts [--builds=1000000] [--awaited=1000] [--runs=3] [--no-write]
 *
 * A SQLite store (the embedded deployment, migrated by the real code) holds `--builds` builds of
 * history: versions of three builds each (a → b → c through outputs: each build but the last of a
 * chain announces an output event), all done; plus `--awaited` recent versions, half of them
 * still open (their last build running). A sync = `settleTraces(awaited)`.
 * - nightless: the indexed statement over the awaited versions only;
 * - baseline (same run): the simplest thing that answers the same question without the ledger's
 *   indexes — one aggregate over every build, grouped by version (what a query per sync over the
 *   history would cost).
 * Each run builds a fresh database; the figure is the median of 20 syncs per run (the baseline: 3).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, median } from '../lib/report.mjs';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';

const args = benchArgs();
const BUILDS = Number(args.get('builds') ?? 1_000_000);
const AWAITED = Number(args.get('awaited') ?? 1_000);
const RUNS = Number(args.get('runs') ?? 3);
const SYNCS = 20;
const BASELINE_SYNCS = 3;
const NOW = Date.UTC(2026, 10, 30);

async function run(): Promise<{ inc: number; scan: number; done: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'nightless-bench-settle-'));
  try {
    const path = join(dir, 'nightless.db');
    const store = await openSqliteStore({ path });
    await store.close();
    const db = new BetterSqlite3(path);
    const versions = Math.floor(BUILDS / 3);
    const event = db.prepare(
      `insert into events (kind, source, version, origin, received_at, processed_at, trace_root, trace_done_at)
       values ('source', ?, ?, ?, ?, ?, ?, ?) returning id`,
    );
    const build = db.prepare(
      `insert into builds (job, state, fingerprint, definition_hash, cause, queued_at, started_at, finished_at, trace_root)
       values (?, ?, ?, 'd', '{}', ?, ?, ?, ?) returning id`,
    );
    const awaited: number[] = [];
    db.transaction(() => {
      for (let v = 0; v < versions + AWAITED; v++) {
        const recent = v >= versions;
        const at = recent ? NOW - 60_000 : NOW - 28 * 86_400_000 + v * 1_000;
        const root = Number(
          (
            event.get('app', `v${v}`, 'webhook', at, at, null, recent ? null : at + 900) as {
              id: number;
            }
          ).id,
        );
        if (recent) awaited.push(root);
        const open = recent && v % 2 === 0;
        for (const [i, job] of ['a', 'b', 'c'].entries()) {
          const running = open && i === 2;
          const id = Number(
            (
              build.get(
                job,
                running ? 'running' : 'passed',
                `fp${v}${job}`,
                at + i * 300,
                at + i * 300,
                running ? null : at + i * 300 + 200,
                root,
              ) as { id: number }
            ).id,
          );
          if (i < 2)
            event.get(`${job}.dist`, `o${v}${job}`, 'output', at, at + i * 300 + 250, root, null);
          void id;
        }
      }
    })();
    db.close();
    const s = await openSqliteStore({ path });
    const inc: number[] = [];
    let done = 0;
    for (let i = 0; i < SYNCS; i++) {
      const t = performance.now();
      const states = await s.traces.settleTraces(awaited);
      inc.push(performance.now() - t);
      done = states.filter((x) => x.doneAt !== null).length;
    }
    await s.close();
    const raw = new BetterSqlite3(path, { readonly: true });
    const scan: number[] = [];
    const q = raw.prepare(
      `select trace_root, sum(case when state in ('queued', 'running') then 1 else 0 end) as open,
              max(finished_at) as last
         from builds where trace_root is not null group by trace_root`,
    );
    for (let i = 0; i < BASELINE_SYNCS; i++) {
      const t = performance.now();
      q.all();
      scan.push(performance.now() - t);
    }
    raw.close();
    return { inc: median(inc), scan: median(scan), done };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const load0 = loadAverage();
const started = performance.now();
const incs: number[] = [];
const scans: number[] = [];
for (let r = 0; r < RUNS; r++) {
  const { inc, scan, done } = await run();
  if (done !== AWAITED / 2) throw new Error(`expected ${AWAITED / 2} done versions, got ${done}`);
  incs.push(inc);
  scans.push(scan);
  console.log(
    `run ${r + 1}/${RUNS}: sync ${inc.toFixed(2)} ms, full aggregate ${scan.toFixed(1)} ms`,
  );
}
const spread = (xs: number[], d: number) =>
  `${Math.min(...xs).toFixed(d)}–${Math.max(...xs).toFixed(d)}`;
const inc = median(incs);
const scan = median(scans);
const report = [
  `Latest run: ${new Date().toISOString()} — ${machine()}; load average (1/5/15 min) ${load0} at start, ${loadAverage()} at end; total ${((performance.now() - started) / 1000).toFixed(1)} s; SQLite, ${BUILDS.toLocaleString('en')} builds of history (versions of 3 chained builds), ${AWAITED} awaited versions (half still open), ${RUNS} runs of ${SYNCS} syncs (baseline: ${BASELINE_SYNCS}); command: \`npx tsx bench/slo/settle.mts${RUNS === 3 ? '' : ` --runs=${RUNS}`}\`.`,
  '',
  figureTable([
    {
      figure: `one lead_time sync (settleTraces of ${AWAITED} awaited versions), median of run medians (spread)`,
      target: '—',
      measured: `${inc.toFixed(2)} ms (${spread(incs, 2)})`,
      met: null,
      baseline: `${scan.toFixed(1)} ms (${spread(scans, 1)}) aggregate over all builds`,
      ratio: `${(scan / inc).toFixed(0)}× faster`,
    },
  ]),
].join('\n');
console.log(report);
if (!args.has('no-write'))
  console.log(`wrote ${writeResultsSection('slo-settle', '## SLO (bench/slo)', report)}`);
