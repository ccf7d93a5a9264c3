import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { git } from '../../src/testing/git.js';
import type { EnvValue, JobDef, SourceDef, StepDef } from '../../src/core/pipeline.js';
import type { RunInput, RunObserver, RunSpec } from '../../src/executor/port.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';

/** A temp dir per test; `cleanup()` removes every dir made so far. */
export function tempDirs(): { make(prefix?: string): Promise<string>; cleanup(): Promise<void> } {
  const dirs: string[] = [];
  return {
    async make(prefix = 'nightless-exec-') {
      const d = await mkdtemp(join(tmpdir(), prefix));
      dirs.push(d);
      return d;
    },
    async cleanup() {
      for (const d of dirs.splice(0)) {
        // Read-only trees (a step's chmod) first made writable. chmod goes on past a file that
        // vanished under it (a parked tree's deferred clean of an executor not stopped) and then
        // exits non-zero: not this cleanup's failure; `rm` reports what really cannot go.
        spawnSync('chmod', ['-R', 'u+w', d], { stdio: 'ignore' });
        await rm(d, { recursive: true, force: true, maxRetries: 5 });
      }
    },
  };
}

export function env(values: Record<string, string>, secret = false): Record<string, EnvValue> {
  return Object.fromEntries(
    Object.entries(values).map(([k, v]) => [k, { value: v, template: v, secret }]),
  );
}

export function step(name: string, run: string, extra: Partial<StepDef> = {}): StepDef {
  return { name, run, env: {}, timeoutMs: null, ...extra };
}

export function job(steps: StepDef[], extra: Partial<JobDef> = {}): JobDef {
  return {
    name: 'build',
    inputs: [],
    steps,
    env: {},
    timeoutMs: null,
    noOutputTimeoutMs: null,
    outputs: {},
    coverage: null,
    publish: [],
    branches: null,
    paths: null,
    pathsIgnore: null,
    supersede: true,
    cancelRunning: false,
    concurrency: 1,
    quietPeriodMs: null,
    secrets: [],
    ...extra,
  };
}

let nextBuildId = 1;
export function spec(j: JobDef, extra: Partial<RunSpec> = {}): RunSpec {
  return { buildId: nextBuildId++, job: j, inputs: [], secretValues: [], env: {}, ...extra };
}

export function gitSource(name: string, url: string): SourceDef {
  return {
    kind: 'git',
    name,
    url,
    branches: ['main'],
    webhookSecret: null,
    fallbackPollMs: null,
    quietPeriodMs: null,
  };
}

export function gitInput(
  name: string,
  url: string,
  version: string,
  ref: string | null = 'main',
): RunInput {
  return {
    source: name,
    version,
    ref,
    origin: 'manual',
    eventId: null,
    def: gitSource(name, url),
    files: [],
  };
}

export interface RecordingObserver extends RunObserver {
  readonly advances: number[];
}

export function observer(): RecordingObserver {
  const advances: number[] = [];
  return {
    advances,
    logAdvanced: (b) => advances.push(b),
  };
}

export { git };

/** A repo on branch `main` with one commit per entry of `commits` (file name → content). */
export function makeRepo(dir: string, commits: Record<string, string>[]): string[] {
  if (!existsSync(join(dir, '.git'))) git(dir, 'init', '--quiet', '--initial-branch=main');
  const shas: string[] = [];
  for (const [i, files] of commits.entries()) {
    for (const [name, content] of Object.entries(files))
      execFileSync('sh', ['-c', 'cat > "$1"', 'sh', join(dir, name)], { input: content });
    git(dir, 'add', '-A');
    git(dir, 'commit', '--quiet', '-m', `commit ${i}`);
    shas.push(git(dir, 'rev-parse', 'HEAD'));
  }
  return shas;
}

/** True when the pid no longer runs (gone, or a zombie nobody reaped yet). */
export function pidGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

/** Git mirrors in a new dir of `tmp` whose every git run's arguments land in `calls`. */
export async function countedMirrors(
  tmp: ReturnType<typeof tempDirs>,
): Promise<{ mirrors: GitMirrors; calls: string[][] }> {
  const calls: string[][] = [];
  const runGit: GitRunner = (args, o) => {
    calls.push([...args]);
    return spawnGit(args, o);
  };
  return { mirrors: new GitMirrors(join(await tmp.make(), 'git'), { runGit }), calls };
}
