/**
 * Retention bench: does the data directory stay bounded over many builds? See bench/README.md
 * ("Retention").
 *
 *   npx tsx bench/retention/run.mts [--builds=100000] [--every=10000] [--run-every=1000]
 *                                   [--keep-builds=50] [--log-kb=4] [--no-write] [--keep]
 *
 * Two data directories in the same run, driven identically through the real SQLite store: every
 * build is a webhook event → its decisions (new head, queued build) → claim → a real log file
 * (`--log-kb`) → a real 1 KiB output file in the content store → finish (with the output version
 * event, processed too) → the finished row delivered to a report target (cursor + delivery row).
 * One directory runs retention (`retention: { builds: --keep-builds }`) every `--run-every`
 * builds (as the hourly run would after that many builds), the other never (baseline). At every
 * `--every` builds both are measured: data-directory bytes (database + WAL + logs + artifacts)
 * and row counts, after folding the WAL into the database on both sides (`wal_checkpoint(TRUNCATE)`:
 * the WAL's size is a high-water mark of checkpoint timing, bounded by the checkpointer, not by
 * retention). The table reports the last checkpoint's ratio (with / without retention) and
 * how much the with-retention size moved over the second half of the checkpoints.
 */
import { benchArgs, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { pino } from 'pino';
import { ContentStore } from '../../src/artifacts/content-store.js';
import type { BuildInput } from '../../src/core/build.js';
import type { Decision } from '../../src/core/scheduler/index.js';
import { runRetention } from '../../src/maintenance/retention.js';
import { logPath } from '../../src/executor/log-reader.js';
import type { Store } from '../../src/store/ports.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { git, job, pipeline } from '../../src/testing/pipeline-builder.js';

const args = benchArgs();
const BUILDS = Number(args.get('builds') ?? 100_000);
const EVERY = Number(args.get('every') ?? 10_000);
const RUN_EVERY = Number(args.get('run-every') ?? 1000);
const KEEP = Number(args.get('keep-builds') ?? 50);
const LOG_BYTES = Number(args.get('log-kb') ?? 4) * 1024;
const quiet = pino({ level: 'silent' });
const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);
const TABLES = [
  'builds',
  'build_inputs',
  'decisions',
  'events',
  'versions',
  'outbox',
  'deliveries',
  'artifacts',
] as const;
const TARGET = 'webhook:bench';

interface Checkpoint {
  readonly builds: number;
  readonly bytes: number;
  readonly dbBytes: number;
  readonly rows: Readonly<Record<(typeof TABLES)[number], number>>;
}

interface Side {
  readonly name: 'retention' | 'baseline';
  readonly dir: string;
  readonly store: Store;
  readonly artifacts: ContentStore;
  readonly checkpoints: Checkpoint[];
  buildMs: number;
  retentionMs: number;
  retentionRuns: number;
  longestBatchMs: number;
}

const sha = (s: string): string => createHash('sha1').update(s).digest('hex');

const P = pipeline({
  sources: { app: git('main') },
  jobs: { build: job({ inputs: ['app'], outputs: { dist: ['dist/*'] } }) },
  retention: { builds: KEEP, ageMs: null, artifacts: Math.min(20, KEEP) },
});

async function open(name: Side['name']): Promise<Side> {
  const dir = await mkdtemp(join(tmpdir(), `nightless-bench-retention-${name}-`));
  const store = await openSqliteStore({ path: join(dir, 'nightless.db') });
  await store.sources.syncSources([{ name: 'app', kind: 'git', url: 'file:///bench' }]);
  await store.deliveries.ensureCursor(TARGET, 'webhook', 0, 0);
  await mkdir(join(dir, 'logs'), { recursive: true });
  return {
    name,
    dir,
    store,
    artifacts: new ContentStore(dir),
    checkpoints: [],
    buildMs: 0,
    retentionMs: 0,
    retentionRuns: 0,
    longestBatchMs: 0,
  };
}

/** One build, the way the engine writes it (same store calls, same transactions). */
async function oneBuild(side: Side, i: number, now: number, logText: string): Promise<void> {
  const { store } = side;
  const version = sha(`commit ${i}`);
  await store.inbox.appendEvent({
    kind: 'source',
    source: 'app',
    version,
    ref: 'main',
    origin: 'webhook',
    deliveryId: `d-${i}`,
    changedPaths: ['src/a.ts'],
    producedBy: null,
    receivedAt: now,
  });
  const [event] = await store.scheduler.pendingEvents(1);
  if (!event) throw new Error('no pending event');
  const input: BuildInput = {
    source: 'app',
    version,
    origin: 'webhook',
    eventId: event.id,
    ref: 'main',
  };
  const decisions: Decision[] = [
    {
      kind: 'advance-head',
      rule: 'new-version',
      detail: `app@${version.slice(0, 7)} is new`,
      job: null,
      source: 'app',
      version,
      ref: 'main',
      origin: 'webhook',
      producedBy: null,
    },
    {
      kind: 'queue-build',
      rule: 'new-version',
      detail: `build: app@${version.slice(0, 7)}`,
      job: 'build',
      source: 'app',
      version,
      fingerprint: sha(`fp ${i}`),
      definitionHash: 'd'.repeat(64),
      inputs: [input],
      cause: { kind: 'version', source: 'app', version, eventId: event.id },
      concurrency: { group: 'build@main', limit: 1, supersede: true },
      forced: false,
      supersedes: [],
      cancels: [],
    },
  ];
  await store.scheduler.applyDecisions(event, decisions, now);
  const build = await store.queue.claimNextBuild('bench', now);
  if (!build) throw new Error('nothing to claim');
  await writeFile(logPath(side.dir, build.id), logText);
  const out = join(side.dir, 'out.bin');
  await writeFile(out, `output of build ${i}\n`.padEnd(1024, '.'));
  const blob = await side.artifacts.put(out);
  const digest = sha(`out ${i}`);
  await store.queue.finishBuild(
    build.id,
    {
      result: {
        state: i % 10 === 0 ? 'failed' : 'passed',
        ...(i % 10 === 0
          ? { step: 'test', exitCode: 1, reason: 'step "test" exited with code 1' }
          : {}),
        outputs: [
          {
            name: 'dist',
            digest,
            files: [{ path: 'out.bin', digest: blob.digest, size: blob.size }],
          },
        ],
        coverage: null,
        warnings: [],
      } as never,
      logBytes: logText.length,
      outputEvents: [
        {
          kind: 'source',
          source: 'build.dist',
          version: digest,
          ref: null,
          origin: 'output',
          deliveryId: null,
          changedPaths: null,
          producedBy: build.id,
          receivedAt: now,
        },
      ],
    },
    now,
  );
  // The output version: processed like the scheduler would (a new head of build.dist).
  const [outEvent] = await store.scheduler.pendingEvents(1);
  if (outEvent)
    await store.scheduler.applyDecisions(
      outEvent,
      [
        {
          kind: 'advance-head',
          rule: 'new-version',
          detail: 'new output',
          job: null,
          source: 'build.dist',
          version: digest,
          ref: null,
          origin: 'output',
          producedBy: build.id,
        },
      ],
      now,
    );
  // The report target delivered the finished row.
  const last = await store.read.lastOutboxId();
  const d = await store.deliveries.openDelivery(last, TARGET, now);
  await store.deliveries.recordAttempt(
    d.id,
    { state: 'delivered' },
    { target: TARGET, outboxId: last },
    now,
  );
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}

async function checkpoint(side: Side, builds: number): Promise<void> {
  const db = new BetterSqlite3(join(side.dir, 'nightless.db'));
  // The WAL's size is its high-water mark since the last restart (checkpoint timing, not data):
  // fold it into the database on both sides alike, so the figure is what is kept.
  // The server's own checkpointer may hold the WAL for a moment: retry (bounded) until it folded.
  for (let i = 0; i < 50; i++) {
    const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number }>;
    if (r?.busy === 0) break;
    await new Promise((res) => setTimeout(res, 20));
  }
  const rows = Object.fromEntries(
    TABLES.map((t) => [t, (db.prepare(`select count(*) as n from ${t}`).get() as { n: number }).n]),
  ) as Checkpoint['rows'];
  db.close();
  const dbBytes =
    (await stat(join(side.dir, 'nightless.db'))).size +
    (await stat(join(side.dir, 'nightless.db-wal')).then(
      (s) => s.size,
      () => 0,
    ));
  side.checkpoints.push({ builds, bytes: await dirBytes(side.dir), dbBytes, rows });
}

const MB = (b: number): string => `${(b / 1e6).toFixed(1)} MB`;

async function main(): Promise<void> {
  const started = performance.now();
  const withRetention = await open('retention');
  const baseline = await open('baseline');
  const logText = 'a line of build output, as a step would print it ..........\n'
    .repeat(Math.ceil(LOG_BYTES / 60))
    .slice(0, LOG_BYTES);
  const t0 = Date.UTC(2026, 0, 1);
  log(`${BUILDS} builds, checkpoint every ${EVERY}, retention every ${RUN_EVERY}, keep ${KEEP}`);
  for (let i = 1; i <= BUILDS; i++) {
    const now = t0 + i * 60_000;
    for (const side of [withRetention, baseline]) {
      const b0 = performance.now();
      await oneBuild(side, i, now, logText);
      side.buildMs += performance.now() - b0;
    }
    if (i % RUN_EVERY === 0) {
      const r0 = performance.now();
      const r = await runRetention({
        store: withRetention.store,
        deliveries: withRetention.store.deliveries,
        artifacts: withRetention.artifacts,
        pipeline: P,
        reportTargets: [TARGET],
        logFile: (id) => logPath(withRetention.dir, id),
        logger: quiet,
        now: () => now,
        blobMinAgeMs: 0,
      });
      withRetention.retentionMs += performance.now() - r0;
      withRetention.retentionRuns += 1;
      withRetention.longestBatchMs = Math.max(withRetention.longestBatchMs, r.longestBatchMs);
    }
    if (i % EVERY === 0 || i === BUILDS) {
      await checkpoint(withRetention, i);
      await checkpoint(baseline, i);
      const w = withRetention.checkpoints.at(-1);
      const b = baseline.checkpoints.at(-1);
      log(
        `${i}: with retention ${MB(w?.bytes ?? 0)} (${w?.rows.builds} builds), baseline ${MB(b?.bytes ?? 0)} (${b?.rows.builds} builds), ${((performance.now() - started) / 1000).toFixed(0)} s`,
      );
    }
  }
  const report = render(withRetention, baseline, (performance.now() - started) / 1000);
  process.stdout.write(`${report}\n`);
  if (!args.has('no-write'))
    log(`wrote ${writeResultsSection('retention', '## Retention (bench/retention)', report)}`);
  for (const side of [withRetention, baseline]) {
    await side.store.close();
    if (!args.has('keep')) await rm(side.dir, { recursive: true, force: true });
    else log(`kept ${side.dir}`);
  }
}

function render(w: Side, b: Side, seconds: number): string {
  const lastW = w.checkpoints.at(-1);
  const lastB = b.checkpoints.at(-1);
  if (!lastW || !lastB) throw new Error('no checkpoint');
  // "Bounded": over the second half of the checkpoints the size moves by less than 10 %.
  const half = w.checkpoints.slice(Math.floor(w.checkpoints.length / 2));
  const sizes = half.map((c) => c.bytes);
  const drift = (Math.max(...sizes) - Math.min(...sizes)) / Math.max(...sizes);
  const rows: FigureRow[] = [
    {
      figure: `data directory after ${lastW.builds} builds`,
      target: 'bounded (flat over the 2nd half of checkpoints)',
      measured: `${MB(lastW.bytes)}; moved ${(drift * 100).toFixed(1)} % over the 2nd half`,
      met: drift < 0.1,
      baseline: MB(lastB.bytes),
      ratio: `${(lastW.bytes / lastB.bytes).toFixed(3)}×`,
    },
    {
      figure: 'database file',
      target: '—',
      measured: MB(lastW.dbBytes),
      met: null,
      baseline: MB(lastB.dbBytes),
      ratio: `${(lastW.dbBytes / lastB.dbBytes).toFixed(3)}×`,
    },
    {
      figure: 'time per build (store calls, log, blob)',
      target: '—',
      measured: `${(w.buildMs / lastW.builds).toFixed(2)} ms`,
      met: null,
      baseline: `${(b.buildMs / lastB.builds).toFixed(2)} ms`,
      ratio: `${(w.buildMs / b.buildMs).toFixed(2)}×`,
    },
    {
      figure: `one retention run (every ${RUN_EVERY} builds)`,
      target: '—',
      measured: `${(w.retentionMs / Math.max(1, w.retentionRuns)).toFixed(0)} ms mean over ${w.retentionRuns} runs`,
      met: null,
      baseline: '—',
      ratio: '—',
    },
    {
      figure: 'longest retention batch (one transaction: what a webhook or the scheduler may wait)',
      target: '< 100 ms',
      measured: `${w.longestBatchMs} ms`,
      met: w.longestBatchMs < 100,
      baseline: `${(b.buildMs / lastB.builds).toFixed(1)} ms (one build's store calls)`,
      ratio: `${(w.longestBatchMs / (b.buildMs / lastB.builds)).toFixed(1)}×`,
    },
  ];
  const header = `| builds | ${TABLES.join(' | ')} | data dir | baseline rows (builds / events) | baseline data dir |`;
  const sep = `|${'---|'.repeat(TABLES.length + 4)}`;
  const lines = w.checkpoints.map((c, i) => {
    const base = b.checkpoints[i];
    return `| ${c.builds} | ${TABLES.map((t) => c.rows[t]).join(' | ')} | ${MB(c.bytes)} | ${base?.rows.builds ?? '?'} / ${base?.rows.events ?? '?'} | ${MB(base?.bytes ?? 0)} |`;
  });
  return [
    `Latest run: ${new Date().toISOString()} — ${machine()}; load average (1/5/15 min) ${loadAverage()} at the end; total ${seconds.toFixed(0)} s.`,
    `${lastW.builds} builds (of --builds=${BUILDS}), \`retention: { builds: ${KEEP} }\` run every ${RUN_EVERY} builds; log ${LOG_BYTES} B and a 1 KiB output per build; baseline: same builds, no retention.`,
    '',
    figureTable(rows),
    '',
    'Rows with retention at each checkpoint (baseline for comparison):',
    '',
    header,
    sep,
    ...lines,
  ].join('\n');
}

await main();
