/**
 * What a round of fallback checks costs when they fall due together (`nightless poll --all`, a
 * first start): the real `FallbackPoller.pollAll` over `--repos` git sources on as many
 * repositories as `file://` URLs (every check a `git ls-remote` started by the spawn helper),
 * rounds alternating between
 *   widening  the default: one check at a time while each answers within 250 ms;
 *   eight     the same poller with `slowCheckMs: 0`, i.e. eight at once from the start (the
 *             behaviour before the change, and the baseline in the same run).
 *
 *   npx tsx bench/ingest/poll-round.mts [--repos=200] [--rounds=4]
 *
 * Prints, per round: wall time, the git processes' CPU (the spawn helper's waited-for children)
 * and this process's plus the helper's own CPU; then the medians and their ratio. Not written to
 * RESULTS.md by itself (`run.mts` (3c) measures the idle server as users run it).
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { FallbackPoller } from '../../src/ingest/poll/fallback-poller.js';
import { processHelper } from '../../src/spawn/process-helper.js';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
import { seededRepo } from '../../src/testing/git.js';
import { pipeline } from '../../src/testing/pipeline-builder.js';
import { benchArgs } from '../lib/cli.mjs';
import { procCpu } from '../lib/proc-cpu.mjs';
import { median } from '../lib/report.mjs';

const args = benchArgs();
const REPOS = Number(args.get('repos') ?? 200);
const ROUNDS = Number(args.get('rounds') ?? 4);

const dir = mkdtempSync(join(tmpdir(), 'nightless-poll-round-'));
try {
  const { bare: first } = seededRepo(dir, 'r0');
  const urls = Array.from({ length: REPOS }, (_, i) => {
    const repo = join(dir, `r${i}.git`);
    if (i > 0) cpSync(first, repo, { recursive: true });
    return `file://${repo}`;
  });
  const pipe = pipeline({
    name: 'poll-round',
    sources: Object.fromEntries(
      urls.map((url, i) => [
        `s${i}`,
        {
          kind: 'git',
          url,
          branches: ['main'],
          webhookSecret: null,
          fallbackPollMs: 600_000,
          quietPeriodMs: null,
        },
      ]),
    ),
    jobs: {},
  });
  const store = await openSqliteStore({ path: join(dir, 'db') });
  await store.sources.syncSources(urls.map((url, i) => ({ name: `s${i}`, kind: 'git', url })));

  const poller = (slowCheckMs: number | undefined) =>
    new FallbackPoller({
      store: store.sources,
      ingest: () => Promise.resolve(),
      pipeline: () => pipe,
      logger: pino({ level: 'silent' }),
      ...(slowCheckMs === undefined ? {} : { slowCheckMs }),
    });
  // Warm-up: the helper started, every repository's head known (later rounds find nothing new).
  await poller(0).pollAll();
  const helper = processHelper.pid;
  if (helper === undefined) throw new Error('the spawn helper did not start (git ran in-process?)');

  const rows: Record<
    'widening' | 'eight',
    { wall: number; git: number; node: number; helper: number }[]
  > = {
    widening: [],
    eight: [],
  };
  for (let r = 0; r < ROUNDS * 2; r++) {
    const mode = r % 2 === 0 ? 'widening' : 'eight';
    const p = poller(mode === 'widening' ? undefined : 0);
    const h0 = procCpu(helper);
    const s0 = procCpu('self');
    const t0 = performance.now();
    const outcomes = await p.pollAll();
    const wall = (performance.now() - t0) / 1000;
    await p.stop();
    const h1 = procCpu(helper);
    const s1 = procCpu('self');
    const failed = outcomes.filter((o) => !o.ok).length;
    if (failed > 0) throw new Error(`${failed} checks failed in a ${mode} round`);
    const row = {
      wall,
      git: h1.children - h0.children,
      node: s1.self - s0.self + h1.self - h0.self,
      helper: h1.self - h0.self,
    };
    rows[mode].push(row);
    console.log(
      `${mode.padEnd(8)} round ${Math.floor(r / 2) + 1}: ${outcomes.length} checks in ${row.wall.toFixed(2)} s, git ${row.git.toFixed(2)} CPU-s, node (this + helper) ${row.node.toFixed(2)} CPU-s (helper ${row.helper.toFixed(2)})`,
    );
  }
  const m = (mode: 'widening' | 'eight', k: 'wall' | 'git' | 'node') =>
    median(rows[mode].map((x) => x[k]));
  for (const k of ['wall', 'git', 'node'] as const)
    console.log(
      `median ${k}: widening ${m('widening', k).toFixed(2)}, eight ${m('eight', k).toFixed(2)} (${(m('widening', k) / m('eight', k)).toFixed(2)}×); per round: widening ${rows.widening.map((x) => x[k].toFixed(2)).join(' / ')}, eight ${rows.eight.map((x) => x[k].toFixed(2)).join(' / ')}`,
    );
  await store.close();
  processHelper.stop();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
