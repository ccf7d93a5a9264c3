/**
 * The world of the latency bench: two small bare repositories, the pipeline, the built
 * `nightless serve` process, the interleaved floor script and the HTTP calls a forge makes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { repoRoot, requireBuilt } from '../lib/cli.mjs';

export const SECRET = 'bench-webhook-secret';
export const TOKEN = 'bench-admin-token-0123456789';
const GIT_ID = {
  GIT_AUTHOR_NAME: 'Bench',
  GIT_AUTHOR_EMAIL: 'bench@example.com',
  GIT_COMMITTER_NAME: 'Bench',
  GIT_COMMITTER_EMAIL: 'bench@example.com',
};

/** Epoch milliseconds with sub-millisecond resolution. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export function run(
  cmd: string,
  argv: readonly string[],
  opts: { cwd?: string } = {},
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, {
      cwd: opts.cwd,
      env: { ...process.env, ...GIT_ID },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('error', reject);
    child.once('close', (code) =>
      code === 0
        ? resolve(out.trim())
        : reject(new Error(`${cmd} ${argv.join(' ')} exited ${code}: ${err.trim()}`)),
    );
  });
}

/** `date +%s%N` output in `path` → epoch ms; `null` while the file is absent or empty. */
export async function readMark(path: string): Promise<number | null> {
  const text = await readFile(path, 'utf8').catch(() => '');
  if (text.trim() === '') return null;
  return Number(BigInt(text.trim()) / 1000n) / 1000;
}

/**
 * Resolves with the match once `re` matches what `child` printed (stdout and stderr, whichever are
 * piped), on the output's own events: polling it, or an API, every 1 ms takes CPU from the server
 * during the very span measured. Rejects after `ms`, or when the child exits first.
 */
export function waitForOutput(
  child: ChildProcess,
  re: RegExp,
  ms: number,
  what: string,
): Promise<RegExpExecArray> {
  let out = '';
  return new Promise((resolve, reject) => {
    const settle = (err: Error | null, m?: RegExpExecArray): void => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.stderr?.off('data', onData);
      child.off('exit', onExit);
      if (m) resolve(m);
      else reject(err ?? new Error(`no match for ${what}`));
    };
    const onData = (d: Buffer): void => {
      // Only the tail can complete a match that the text before it did not have.
      out = out.slice(-4096) + d.toString();
      const m = re.exec(out);
      if (m) settle(null, m);
    };
    const onExit = (code: number | null): void =>
      settle(new Error(`the process exited (${code}) before ${what}:\n${out.slice(-2000)}`));
    const timer = setTimeout(
      () => settle(new Error(`timed out after ${ms} ms waiting for ${what}:\n${out.slice(-2000)}`)),
      ms,
    );
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', onExit);
  });
}

/** Polls `probe` every 1 ms until it gives a value, at most `ms` (bounded, then throws). */
export async function waitFor<T>(probe: () => Promise<T | null>, ms: number, what: string) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(1);
  }
}

/**
 * Waits for a step's mark as inotify reports it, never polling: 1 ms polls took CPU from the
 * server during the very window measured, which the floor script, awaited as a process, never
 * had. A re-read every 100 ms covers a missed event; bounded by `ms`, then throws.
 */
export function waitForMark(path: string, ms: number): Promise<number> {
  const name = basename(path);
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (): void => {
      done = true;
      watcher.close();
      clearInterval(slow);
      clearTimeout(deadline);
    };
    const check = (): void =>
      void readMark(path).then((v) => {
        if (v === null || done) return;
        finish();
        resolve(v);
      });
    const watcher = watch(dirname(path), (_event, file) => {
      if (file === name) check();
    });
    const slow = setInterval(check, 100);
    const deadline = setTimeout(() => {
      finish();
      reject(new Error(`timed out after ${ms} ms waiting for ${path}`));
    }, ms);
    check();
  });
}

/** A bare repository of ~50 files plus a working clone that commits and pushes to it. */
export class Repo {
  private commits = 0;
  constructor(
    readonly origin: string,
    private readonly work: string,
  ) {}

  static async create(dir: string, name: string): Promise<Repo> {
    const origin = join(dir, `${name}.git`);
    const work = join(dir, `${name}-work`);
    await mkdir(work, { recursive: true });
    await run('git', ['init', '--quiet', '--bare', '--initial-branch=main', origin]);
    await run('git', ['init', '--quiet', '--initial-branch=main'], { cwd: work });
    for (let i = 0; i < 50; i++) {
      const sub = join(work, 'src', `m${i % 5}`);
      await mkdir(sub, { recursive: true });
      await writeFile(join(sub, `file-${i}.ts`), `export const v${i} = ${i};\n`.repeat(40));
    }
    await writeFile(join(work, 'CHANGES'), 'initial\n');
    await run('git', ['add', '-A'], { cwd: work });
    await run('git', ['commit', '--quiet', '-m', 'initial'], { cwd: work });
    await run('git', ['remote', 'add', 'origin', origin], { cwd: work });
    await run('git', ['push', '--quiet', 'origin', 'main'], { cwd: work });
    return new Repo(origin, work);
  }

  /** A new commit pushed to the bare repository (not timed); its id. */
  async push(): Promise<string> {
    this.commits++;
    await writeFile(join(this.work, 'CHANGES'), `change ${this.commits}\n`);
    await run('git', ['commit', '--quiet', '-a', '-m', `change ${this.commits}`], {
      cwd: this.work,
    });
    await run('git', ['push', '--quiet', 'origin', 'main'], { cwd: this.work });
    return run('git', ['rev-parse', 'HEAD'], { cwd: this.work });
  }
}

export function pipelineYaml(app: Repo, lib: Repo, marks: string): string {
  const q = JSON.stringify;
  return `
sources:
  app:
    git: ${q(app.origin)}
    branch: main
    webhook_secret: ${q(SECRET)}
    fallback_poll: off
  lib:
    git: ${q(lib.origin)}
    branch: main
    webhook_secret: ${q(SECRET)}
    fallback_poll: off
jobs:
  first-step:
    inputs: [app]
    env: { MARKS: ${q(marks)} }
    steps:
      - date +%s%N > "$MARKS/$NIGHTLESS_INPUT_APP_VERSION"
  up:
    inputs: [lib]
    steps:
      - echo "$NIGHTLESS_INPUT_LIB_VERSION" > out.txt
    outputs:
      out: out.txt
  down:
    inputs: [up.out]
    env: { MARKS: ${q(marks)} }
    steps:
      - read -r v < "$NIGHTLESS_INPUT_UP_OUT_FILES"; date +%s%N > "$MARKS/down-$v"
`;
}

/** The floor: fetch into a mirror + checkout into an existing tree + spawn, by a shell script. */
export async function prepareFloor(dir: string, origin: string): Promise<string> {
  const mirror = join(dir, 'floor-mirror.git');
  const tree = join(dir, 'floor-tree');
  await run('git', ['clone', '--quiet', '--mirror', origin, mirror]);
  await run('git', ['clone', '--quiet', '--shared', mirror, tree]);
  const script = join(dir, 'floor.sh');
  await writeFile(
    script,
    [
      '#!/bin/bash',
      'set -e',
      // As nightless fetches: git's auto-maintenance runs later, off the measured path.
      `git --git-dir ${JSON.stringify(mirror)} fetch --no-auto-maintenance --quiet --prune origin`,
      `git -C ${JSON.stringify(tree)} checkout -f --quiet --detach "$1"`,
      `bash -c 'date +%s%N > "$0"' "$2"`,
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return script;
}

export interface Server {
  readonly url: string;
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

/** Starts the built `node bin/nightless.js serve` in its own process and waits until it listens. */
export async function startServer(
  cwd: string,
  config: string,
  dataDir: string,
  root = repoRoot,
  extraArgs: readonly string[] = [],
  /** Flags for node itself, before the script (`--cpu-prof`, to profile the server). */
  nodeArgs: readonly string[] = [],
): Promise<Server> {
  requireBuilt(root);
  const child = spawn(
    process.execPath,
    [
      ...nodeArgs,
      join(root, 'bin', 'nightless.js'),
      'serve',
      ...['-c', config, '-d', dataDir, '--port', '0', '--slots', '2'],
      ...['--log-level', 'error', '--no-watch'],
      ...extraArgs,
    ],
    {
      cwd,
      env: { ...process.env, NIGHTLESS_TOKEN: TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const [, url = ''] = await waitForOutput(
    child,
    /at (http:\/\/\S+)\s/,
    30_000,
    'the server to listen',
  );
  return {
    url,
    child,
    stop: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    },
  };
}

/** A signed generic webhook for `source` at `sha`, as a forge would send it; the event id. */
export async function postGeneric(url: string, source: string, sha: string): Promise<number> {
  const body = JSON.stringify({ source, version: sha, ref: 'main' });
  const sig = createHmac('sha256', SECRET).update(body).digest('hex');
  const res = await fetch(`${url}/hooks/generic`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-nightless-signature-256': `sha256=${sig}` },
    body,
    signal: AbortSignal.timeout(10_000),
  });
  const json = (await res.json()) as { events?: number[] };
  if (res.status !== 202 || json.events?.[0] === undefined)
    throw new Error(`webhook answered ${res.status}: ${JSON.stringify(json)}`);
  return json.events[0];
}

export async function api<T>(url: string, path: string, method = 'GET'): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}
