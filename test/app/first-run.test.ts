import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareDemo } from '../../src/app/demo.js';
import { notBuilt } from './serve-helpers.js';

/**
 * The first run as the README describes it, through the compiled CLI: `nightless serve --demo`
 * in an empty directory, then every command the server prints pasted into a shell, in order.
 * The demo push must build through the git hook (origin `hook`), and the server's terminal at
 * `info` shows builds, not requests.
 */
const root = join(import.meta.dirname, '..', '..');
const bin = join(root, 'bin', 'nightless.js');

interface BuildsBody {
  builds: Array<{
    id: number;
    job: string;
    state: string;
    inputs: Array<{ source: string; origin: string | null; version: string }>;
  }>;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, ms: number, what: () => string) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const api = async (url: string): Promise<BuildsBody> =>
  (await (await fetch(url, { signal: AbortSignal.timeout(5000) })).json()) as BuildsBody;

/** `PATH` without any directory holding a `nightless`, so the banner must say how to run it. */
function pathWithoutNightless(): string {
  return (process.env.PATH ?? '')
    .split(':')
    .filter((d) => d !== '' && !existsSync(join(d, 'nightless')))
    .join(':');
}

describe.skipIf(notBuilt)('first run: the demo as printed (real process)', () => {
  let dir: string;
  let child: ChildProcess;
  let out = '';
  let err = '';
  let url: string;
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutNightless() };
  delete env.NIGHTLESS_TOKEN;
  delete env.NIGHTLESS_SERVER;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-first-run-'));
    child = spawn(process.execPath, [bin, 'serve', '--demo', '--port', '0'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    url = await waitFor(
      () => Promise.resolve(/at (http:\/\/\S+)/.exec(out)?.[1]),
      20_000,
      () => `no URL printed; stderr: ${err}`,
    );
    await waitFor(
      async () =>
        (await api(`${url}/api/builds`)).builds.some(
          (b) => b.job === 'integration' && b.state === 'passed',
        )
          ? true
          : undefined,
      45_000,
      () => err,
    );
  });
  afterAll(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  });

  it('every printed command works when pasted in order; the demo push builds through the hook', async () => {
    const banner = out.slice(out.indexOf('Try next'));
    const commands = banner
      .split('\n')
      .slice(1)
      .filter((l) => l.startsWith('  '))
      .map((l) => l.replace(/\s+# .*$/, '').trim());
    expect(commands.length).toBeGreaterThanOrEqual(5);
    // Not on PATH and not inside the nightless checkout: the absolute entry point.
    expect(commands[0]).toBe(`node ${bin} status --server ${url}`);
    expect(out).toMatch(/git hook installed: \S+post-receive/);

    const results: Array<{ command: string; status: number | null; stdout: string }> = [];
    for (const command of commands) {
      const r = spawnSync('sh', ['-c', command], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
      results.push({ command, status: r.status, stdout: r.stdout + r.stderr });
      if (command.includes('git push')) {
        // The hook notifies at once: a build with origin `hook`, long before the 1m poll.
        const started = Date.now();
        const hooked = await waitFor(
          async () =>
            (await api(`${url}/api/builds?job=build`)).builds.find(
              (b) => b.state === 'passed' && b.inputs.some((i) => i.origin === 'hook'),
            ),
          5_000,
          () => err,
        );
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(hooked.inputs[0]).toMatchObject({ source: 'app', origin: 'hook' });
        // Let the scheduler record the early cutoff before `why` runs ("a second later").
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    for (const r of results) expect(r, r.command).toMatchObject({ status: 0 });
    expect(results.at(-1)?.stdout).toContain('is identical to build #1');
    // `logs 1`: the build log names the two digests apart and never prints "-%".
    const log = results[2]?.stdout ?? '';
    expect(log).toMatch(/output dist: 1 file, output digest [0-9a-f]{64}/);
    expect(log).toMatch(/dist\/greeter\.tgz {2}file sha256 [0-9a-f]{64}/);
    expect(log).toContain('coverage: lines 100%, branches not measured');
    expect(log).not.toContain('-%');
    expect((await readFile(join(dir, '.nightless', '.gitignore'), 'utf8')).split('\n')).toContain(
      '*',
    );
    const sources = spawnSync(process.execPath, [bin, 'sources', '--server', url], {
      cwd: dir,
      env,
      encoding: 'utf8',
    });
    expect(sources.stdout).toMatch(/main → \w+ \(hook,/);
    expect(sources.stdout).toContain('0 missed');
  });

  it('a mistyped job or source name gets a suggestion', () => {
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [bin, ...args, '--server', url], {
        cwd: dir,
        env,
        encoding: 'utf8',
        timeout: 30_000,
      });
    const trigger = run('trigger', 'biuld');
    expect(trigger.status).not.toBe(0);
    expect(trigger.stderr).toContain('no job "biuld" in the pipeline (did you mean "build"?)');
    expect(run('why', 'integraton').stderr).toContain('(did you mean "integration"?)');
    expect(run('poll', 'ap').stderr).toContain('no source "ap" (did you mean "app"?)');
    expect(run('trace', 'build.dits@abc').stderr).toContain(
      'no source "build.dits" in the pipeline (did you mean "build.dist"?)',
    );
  });

  it('the terminal at info shows builds and source changes, not requests', () => {
    // By now the server answered dozens of requests (the polling above, the CLI commands).
    const lines = err
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; msg: string });
    const messages = lines.map((l) => l.msg);
    expect(messages).not.toContain('incoming request');
    expect(messages).not.toContain('request completed');
    expect(messages).toContain('build queued');
    expect(messages).toContain('build started');
    expect(messages).toContain('build finished');
    expect(messages).toContain('source check found new versions');
    expect(lines.every((l) => l.level >= 30)).toBe(true);
  });
});

describe.skipIf(notBuilt)('first run: a demo hook that cannot be installed (real process)', () => {
  it('warns, serves anyway, and the demo still builds', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightless-first-run-nohook-'));
    const demo = await prepareDemo(join(dir, '.nightless'));
    // A foreign hook and a chained one: install refuses rather than overwrite either.
    for (const name of ['post-receive', 'post-receive.pre-nightless'])
      await writeFile(join(demo.bareRepo, 'hooks', name), '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: pathWithoutNightless() };
    delete env.NIGHTLESS_TOKEN;
    const child = spawn(process.execPath, [bin, 'serve', '--demo', '--port', '0'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const url = await waitFor(
        () => Promise.resolve(/at (http:\/\/\S+)/.exec(out)?.[1]),
        20_000,
        () => err,
      );
      await waitFor(
        async () =>
          (await api(`${url}/api/builds`)).builds.some(
            (b) => b.job === 'integration' && b.state === 'passed',
          )
            ? true
            : undefined,
        45_000,
        () => err,
      );
      expect(err).toContain('cannot install the demo git hook; the fallback poll finds pushes');
      expect(out).not.toContain('git hook installed');
      expect(out).toContain('Try next:');
    } finally {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    }
  });
});

describe.skipIf(notBuilt)('the installed command (real process)', () => {
  it('runs the bundle in dist/bundle and reports the package version', async () => {
    const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
      version: string;
    };
    const r = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`${pkg.version}\n`);
    // kysely and commander are inside the chunks (kysely's 263 modules cost ~190 ms to load one
    // by one, commander's CommonJS ~17 ms of every command), and no chunk reaches back into
    // the unbundled tsc output.
    const dir = join(root, 'dist', 'bundle');
    const chunks = (await readdir(dir)).filter((f) => f.endsWith('.js'));
    const texts = await Promise.all(chunks.map((f) => readFile(join(dir, f), 'utf8')));
    const imports = texts.flatMap((t) =>
      [...t.matchAll(/^(?:import|export)\s[^;]*?from\s*"([^"]+)"/gm)].map((m) => m[1]),
    );
    expect(imports).toContain('fastify'); // the scan sees the chunks' imports
    const bundled = /^(kysely|commander)(\/|$)/;
    expect(imports.filter((i) => i !== undefined && bundled.test(i))).toEqual([]);
    expect(imports.filter((i) => i?.startsWith('../'))).toEqual([]);
    expect(texts.some((t) => /class _?Kysely\b/.test(t))).toBe(true);
    expect(texts.some((t) => /class _?Command\b/.test(t))).toBe(true);
  });
});
