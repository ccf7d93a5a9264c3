/**
 * Unsigned webhook bodies at the 25 MiB cap, many at once: what the server holds in memory. A
 * signature can only be checked once the whole body is in, so without the endpoints' limits on
 * bodies in flight (src/ingest/webhooks/bodies-in-flight.ts) every such request costs its 25 MiB
 * (and as much again for the copy a finished body gets), whoever sends it.
 *
 *   npx tsx bench/ingest/unsigned-flood.mts [--bodies=80] [--rounds=3] [--before=DIR] [--no-write]
 *
 * The built server (`dist/`), `serve --demo`, over 127.0.0.1. Scenarios, each `--rounds` times:
 * one client address sending `--bodies` bodies with a `Content-Length`; the same chunked; eight
 * client addresses (127.0.0.2–9) sending `--bodies` / 8 each. Memory: the server's VmRSS, sampled
 * every 20 ms, its peak over the RSS just before the flood; a new server for every flood (memory
 * a process once got it keeps, so a second flood would add little). Baseline in the same run, with
 * `--before=DIR` (another built checkout: the code before the limits): the same floods on that
 * server, alternating with this one's; without it, the bodies' bytes (what each would hold).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { benchArgs, repoRoot, writeResultsSection } from '../lib/cli.mjs';
import { figureTable, loadAverage, machine, type FigureRow } from '../lib/report.mjs';
import { waitForOutput } from '../latency/world.mjs';

const args = benchArgs();
const BODIES = Number(args.get('bodies') ?? 80);
const ROUNDS = Number(args.get('rounds') ?? 3);
const BEFORE = args.get('before');
const BODY = Buffer.alloc(25 * 1024 * 1024 - 1024, 0x20);
const MiB = 1024 * 1024;

interface Server {
  readonly url: URL;
  readonly rssMiB: () => number;
  stop(): Promise<void>;
}

async function startServer(root: string): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'nightless-flood-'));
  const child: ChildProcessByStdio<null, Readable, null> = spawn(
    process.execPath,
    [join(root, 'bin', 'nightless.js'), 'serve', '--demo', '--port', '0', '--log-level', 'error'],
    { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async (): Promise<void> => {
    child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const [, url = ''] = await waitForOutput(
    child,
    /at (http:\/\/\S+)\s/,
    30_000,
    `${root}: the server to listen`,
  ).catch(async (err: unknown) => {
    await stop();
    throw err;
  });
  return {
    url: new URL(url),
    rssMiB: () =>
      Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024,
    stop,
  };
}

/** One POST of a 25 MiB unsigned body from `from`; its status, or the socket error's code. */
function post(url: URL, from: string, chunked: boolean): Promise<string> {
  return new Promise((resolve) => {
    const req = request({
      host: url.hostname,
      port: url.port,
      path: '/hooks/github',
      method: 'POST',
      localAddress: from,
      timeout: 60_000,
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'push',
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
        ...(chunked ? {} : { 'content-length': String(BODY.length) }),
      },
    });
    let settled = false;
    const done = (what: string): void => {
      if (!settled) resolve(what);
      settled = true;
    };
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => done(String(res.statusCode)));
    });
    // A refused body's socket closes while the client still writes: the answer came first.
    req.on('error', (err: NodeJS.ErrnoException) =>
      setTimeout(() => done(err.code ?? 'error'), 50),
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    if (chunked) for (let o = 0; o < BODY.length; o += MiB) req.write(BODY.subarray(o, o + MiB));
    else req.write(BODY);
    req.end();
  });
}

interface Outcome {
  readonly statuses: Record<string, number>;
  readonly extraMiB: number;
  readonly seconds: number;
}

/** One flood on a server of its own (memory a process got once it keeps: RSS would not rise again). */
async function flood(
  root: string,
  addresses: readonly string[],
  chunked: boolean,
): Promise<Outcome> {
  const s = await startServer(root);
  try {
    return await floodOn(s, addresses, chunked);
  } finally {
    await s.stop();
  }
}

async function floodOn(
  s: Server,
  addresses: readonly string[],
  chunked: boolean,
): Promise<Outcome> {
  // Settled after start (the demo's first builds): what the flood adds is measured from here.
  await new Promise((r) => setTimeout(r, 3000));
  const before = s.rssMiB();
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, s.rssMiB())), 20);
  const t0 = performance.now();
  const each = Math.max(1, Math.round(BODIES / addresses.length));
  const answers = await Promise.all(
    addresses.flatMap((a) => Array.from({ length: each }, () => post(s.url, a, chunked))),
  );
  const seconds = (performance.now() - t0) / 1000;
  clearInterval(sampler);
  const statuses: Record<string, number> = {};
  for (const a of answers) statuses[a] = (statuses[a] ?? 0) + 1;
  return { statuses, extraMiB: peak - before, seconds };
}

const f0 = (x: number): string => x.toFixed(0);
const answers = (runs: readonly Outcome[]): string =>
  runs
    .map((r) =>
      Object.entries(r.statuses)
        .map(([k, v]) => `${v}× ${k}`)
        .join(', '),
    )
    .join('; ');

{
  const scenarios = [
    { name: 'from one address, `Content-Length`', from: ['127.0.0.1'], chunked: false },
    { name: 'from one address, chunked', from: ['127.0.0.1'], chunked: true },
    {
      name: 'from 8 addresses (127.0.0.2–9), `Content-Length`',
      from: Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 2}`),
      chunked: false,
    },
  ];
  // Whatever the clients: the 256 MiB total, twice (a finished body is copied once), plus 64.
  const bound = 2 * 256 + 64;
  const rows: FigureRow[] = [];
  for (const s of scenarios) {
    const runs: Outcome[] = [];
    const base: Outcome[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternating which server goes first.
      for (const which of i % 2 === 0 ? ['now', 'then'] : ['then', 'now']) {
        const root = which === 'now' ? repoRoot : BEFORE;
        if (root === undefined) continue;
        const o = await flood(root, s.from, s.chunked);
        console.log(`[bench] ${which}: ${s.name}, round ${i + 1}: ${JSON.stringify(o)}`);
        (which === 'now' ? runs : base).push(o);
      }
    }
    const extra = runs.map((r) => r.extraMiB);
    rows.push({
      figure: `${BODIES} unsigned 25 MiB webhook bodies at once ${s.name}: the server's memory over its RSS before (peak), ${ROUNDS} rounds; answers`,
      target: `< ${bound} MiB (the 256 MiB total in flight, twice, plus 64)`,
      measured: `${extra.map(f0).join(' / ')} MiB; ${answers(runs)}`,
      met: extra.every((x) => x < bound),
      baseline:
        BEFORE === undefined
          ? `${f0(BODIES * 25)} MiB (the bodies' bytes)`
          : `${base.map((b) => f0(b.extraMiB)).join(' / ')} MiB; ${answers(base)} (the code before, \`--before\`)`,
      ratio: `${extra
        .map((x, i) =>
          (x / (BEFORE === undefined ? BODIES * 25 : (base[i]?.extraMiB ?? NaN))).toFixed(3),
        )
        .join(' / ')}×`,
    });
  }
  const report = [
    `Latest run: ${new Date().toISOString()} — ${machine()}; load average ${loadAverage()} at the end; command: \`npx tsx bench/ingest/unsigned-flood.mts${process.argv
      .slice(2)
      .map((a) => ` ${a}`)
      .join('')}\`.`,
    '',
    figureTable(rows),
  ].join('\n');
  console.log(report);
  if (!args.has('no-write'))
    console.log(
      `written to ${writeResultsSection('flood', '## Webhook bodies in flight (bench/ingest/unsigned-flood.mts)', report)}`,
    );
}
