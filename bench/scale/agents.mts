/**
 * Build agents at scale (issue 14, agent part), against the embedded default in the same run:
 *
 * (a) claim throughput: N queued trivial builds (forced triggers of a job without inputs) drained
 *     by 8 `nightless agent` processes (slots 1 each) through one server; builds/s from the first
 *     start to the last finish, and the proof that none started twice (one `started` outbox row
 *     per build, and every build's step ran exactly once by the steps' own record). Baseline: the
 *     same N builds drained by 8 local slots of an embedded server.
 * (b) event → first step: a forced trigger (from the HTTP call) until the step's first command
 *     ran, on an idle agent vs on an idle local slot, interleaved; p50 / p99.
 *
 *   npx tsx bench/scale/agents.mts [--builds=10000] [--agents=8] [--samples=40] [--no-write]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import Database from 'better-sqlite3';
import { pino } from 'pino';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { benchArgs, repoRoot, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';

const args = benchArgs();
const N = Number(args.get('builds') ?? 10_000);
const AGENTS = Number(args.get('agents') ?? 8);
const SAMPLES = Number(args.get('samples') ?? 40);
const MAIN = join(repoRoot, 'src/cli/main.ts');
const TSX = pathToFileURL(join(repoRoot, 'node_modules/tsx/dist/loader.mjs')).href;

const started = new Date();
const loadStart = loadAverage();
const root = await mkdtemp(join(tmpdir(), 'nightless-bench-agents-'));
const children: ChildProcess[] = [];

function pipeline(runsOn: boolean, ran: string): string {
  return `version: 1
pipeline: bench-agents
jobs:
  t:
    concurrency: 1000
    supersede: false
    ${runsOn ? 'runs_on: [bench]' : ''}
    env: { RAN: ${ran} }
    steps: ['echo "$NIGHTLESS_BUILD_ID" >> "$RAN"']
  lat_local:
    env: { OUT: ${join(root, 'lat')} }
    steps: ['date +%s%3N > "$OUT/$NIGHTLESS_BUILD_ID"']
  lat_agent:
    runs_on: [bench]
    env: { OUT: ${join(root, 'lat')} }
    steps: ['date +%s%3N > "$OUT/$NIGHTLESS_BUILD_ID"']
`;
}

const admin = new Map<Nightless, string>();
const tokenOf = (nl: Nightless): string => admin.get(nl) ?? '';

async function server(name: string, runsOn: boolean, slots: number): Promise<Nightless> {
  const dir = join(root, name);
  await writeFile(`${dir}.yaml`, pipeline(runsOn, join(root, `${name}.ran`)));
  const nl = await startNightless({
    configPath: `${dir}.yaml`,
    dataDir: dir,
    host: '127.0.0.1',
    port: 0,
    slots,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
  admin.set(nl, (await readFile(join(dir, 'token'), 'utf8')).trim());
  return nl;
}

function agent(url: string, token: string, name: string): void {
  const env = { ...process.env, NIGHTLESS_AGENT_TOKEN: token };
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      MAIN,
      'agent',
      '--server',
      url,
      '--name',
      name,
      '--labels',
      'bench',
      '--work-dir',
      join(root, `work-${name}`),
      '--log-level',
      'error',
    ],
    { env, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  children.push(child);
}

async function agentToken(nl: Nightless): Promise<string> {
  const res = await fetch(`${nl.url}/api/agent-tokens`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenOf(nl)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench' }),
    signal: AbortSignal.timeout(10_000),
  });
  return ((await res.json()) as { token: string }).token;
}

async function queueN(nl: Nightless, n: number): Promise<void> {
  const at = Date.now();
  for (let i = 0; i < n; i += 1000) {
    const batch = Array.from({ length: Math.min(1000, n - i) }, () => ({
      kind: 'trigger' as const,
      job: 't',
      force: true,
      by: 'bench',
      pins: [],
      rebuildOf: null,
      receivedAt: at,
    }));
    await nl.engine.ingestMany(batch);
    await nl.engine.decided();
  }
}

interface Drain {
  readonly seconds: number;
  readonly perSecond: number;
  readonly startedTwice: number;
  readonly ranTwice: number;
  readonly ranCount: number;
  readonly builds: number;
  readonly passed: number;
}

async function drained(nl: Nightless, dataDir: string, ran: string, n: number): Promise<Drain> {
  const deadline = Date.now() + 60 * 60_000;
  for (;;) {
    const [q] = await nl.store.read.listBuilds({ job: 't', state: 'queued', limit: 1 });
    const [r] = await nl.store.read.listBuilds({ job: 't', state: 'running', limit: 1 });
    if (!q && !r) break;
    if (Date.now() > deadline) throw new Error('not drained within an hour');
    if (process.env.BENCH_DEBUG)
      console.error(
        'bench:',
        (await nl.store.read.listBuilds({ limit: 5 })).map((b) => `${b.id} ${b.state} ${b.reason}`),
      );
    await new Promise((res) => setTimeout(res, 500));
  }
  const db = new Database(join(dataDir, 'nightless.db'), { readonly: true });
  try {
    const span = db
      .prepare(
        "SELECT min(started_at) AS a, max(finished_at) AS b, count(*) AS n, sum(state = 'passed') AS p FROM builds WHERE job = 't'",
      )
      .get() as { a: number; b: number; n: number; p: number };
    const twice = db
      .prepare(
        "SELECT count(*) AS n FROM (SELECT build_id FROM outbox WHERE type = 'started' GROUP BY build_id HAVING count(*) > 1)",
      )
      .get() as { n: number };
    const lines = (await readFile(ran, 'utf8')).trim().split('\n');
    const seconds = (span.b - span.a) / 1000;
    // The pipeline's first load builds `t` once more (reconcile): n + 1 builds.
    if (span.n < n) throw new Error(`expected ${n} builds, found ${span.n}`);
    return {
      seconds,
      perSecond: n / seconds,
      startedTwice: twice.n,
      ranTwice: lines.length - new Set(lines).size,
      ranCount: lines.length,
      builds: span.n,
      passed: span.p,
    };
  } finally {
    db.close();
  }
}

function pct(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] ?? NaN;
}

async function firstStep(nl: Nightless, job: string): Promise<number> {
  const t0 = Date.now();
  const res = await fetch(`${nl.url}/api/jobs/${job}/trigger`, {
    method: 'POST',
    headers: { authorization: `Bearer ${tokenOf(nl)}`, 'content-type': 'application/json' },
    body: JSON.stringify({ force: true }),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { build: { id: number } | null };
  const id = body.build?.id;
  if (id === undefined) throw new Error(`trigger ${job}: ${res.status}`);
  const file = join(root, 'lat', String(id));
  for (let i = 0; i < 3000; i++) {
    const text = await readFile(file, 'utf8').catch(() => '');
    if (text.trim() !== '') {
      const b = await nl.store.read.getBuild(id);
      if (b?.finishedAt !== null) return Number(text.trim()) - t0;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`build #${id} of ${job} did not run`);
}

try {
  await mkdir(join(root, 'lat'));

  console.error('bench: starting the embedded server');
  // (a) baseline: the embedded default, 8 local slots.
  const embedded = await server('embedded', false, AGENTS);
  await queueN(embedded, N);
  console.error('bench: queued');
  const base = await drained(embedded, join(root, 'embedded'), join(root, 'embedded.ran'), N);
  await embedded.stop();
  console.error(`embedded: ${base.perSecond.toFixed(1)} builds/s`);

  // (a) agents: the same queue drained by AGENTS agent processes.
  const nl = await server('agents', true, 1);
  const token = await agentToken(nl);
  await queueN(nl, N);
  for (let i = 0; i < AGENTS; i++) agent(nl.url, token, `a${i + 1}`);
  const remote = await drained(nl, join(root, 'agents'), join(root, 'agents.ran'), N);
  console.error(`agents: ${remote.perSecond.toFixed(1)} builds/s`);

  // (b) event → first step, interleaved, with every agent idle (long-polling).
  const local: number[] = [];
  const onAgent: number[] = [];
  for (let i = 0; i < SAMPLES; i++) {
    local.push(await firstStep(nl, 'lat_local'));
    onAgent.push(await firstStep(nl, 'lat_agent'));
  }
  for (const c of children) c.kill('SIGTERM');
  await nl.stop();

  const p50 = pct(onAgent, 50);
  const p50l = pct(local, 50);
  const rows: FigureRow[] = [
    {
      figure: `(a) ${N} queued trivial builds drained by ${AGENTS} agent processes`,
      target: '—',
      measured: `${remote.perSecond.toFixed(1)} builds/s (${remote.seconds.toFixed(1)} s)`,
      met: null,
      baseline: `${base.perSecond.toFixed(1)} builds/s (${AGENTS} local slots, embedded)`,
      ratio: `${(remote.perSecond / base.perSecond).toFixed(2)}×`,
    },
    {
      figure: '(a) builds started twice / steps run twice',
      target: '0 / 0',
      measured: `${remote.startedTwice} / ${remote.ranTwice} (${remote.builds} builds, ${remote.ranCount} step runs, ${remote.passed} passed)`,
      met: remote.startedTwice === 0 && remote.ranTwice === 0 && remote.ranCount === remote.builds,
      baseline: `${base.startedTwice} / ${base.ranTwice}`,
      ratio: '—',
    },
    {
      figure: `(b) trigger → first step on an idle agent, p50 (${SAMPLES} runs)`,
      target: '≤ 1.5× embedded',
      measured: `${p50} ms`,
      met: p50 <= 1.5 * p50l,
      baseline: `${p50l} ms (local slot, same server)`,
      ratio: `${(p50 / p50l).toFixed(2)}×`,
    },
    {
      figure: '(b) same, p99',
      target: '—',
      measured: `${pct(onAgent, 99)} ms`,
      met: null,
      baseline: `${pct(local, 99)} ms`,
      ratio: `${(pct(onAgent, 99) / pct(local, 99)).toFixed(2)}×`,
    },
    {
      figure: '(b) spread: min / p25 / p75 / max on the agent',
      target: '—',
      measured:
        [0, 25, 75, 100]
          .map((p) => (p === 0 ? Math.min(...onAgent) : pct(onAgent, p)))
          .join(' / ') + ' ms',
      met: null,
      baseline:
        [0, 25, 75, 100].map((p) => (p === 0 ? Math.min(...local) : pct(local, p))).join(' / ') +
        ' ms',
      ratio: '—',
    },
  ];
  const report = [
    `Latest run: ${started.toISOString()} — ${machine()}; load average (1/5/15 min) ${loadStart} at start, ${loadAverage()} at end; total ${((Date.now() - started.getTime()) / 1000).toFixed(0)} s; command: \`npx tsx bench/scale/agents.mts ${process.argv.slice(2).join(' ')}\`.`,
    '',
    figureTable(rows),
    '',
    `- (a) every agent is a separate \`nightless agent\` process (tsx, from source) with one slot, long-polling the server over loopback HTTP; each build is a full run on the agent's LocalExecutor (workspace, log streamed to the server by offset, result posted) of one \`echo\` step. Throughput counts from the first build's start to the last one's end (the database's times).`,
    `- (b) from the trigger call until the step's \`date\` ran (the step's own clock reading); the agent's long poll is woken through the engine, not by polling.`,
  ].join('\n');
  console.log(report);
  if (!args.has('no-write'))
    console.error(
      `wrote ${writeResultsSection('scale-agents', '## Scale: build agents (bench/scale)', report)}`,
    );
} finally {
  for (const c of children) c.kill('SIGKILL');
  await new Promise((r) => setTimeout(r, 500));
  await rm(root, { recursive: true, force: true });
}
