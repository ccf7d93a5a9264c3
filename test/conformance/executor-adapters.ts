import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentStore } from '../../src/artifacts/content-store.js';
import type { JobDef, StepDef } from '../../src/core/pipeline.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import type { Executor, RunInput, RunSpec } from '../../src/executor/port.js';
import { ScriptedExecutor } from '../../src/testing/scripted-executor.js';

/**
 * What the executor suite asks an adapter to run. Each adapter turns a scenario into a job its
 * backend really runs that way: shell steps for the local executor, a script for the test double.
 */
export type Scenario =
  /** Two steps that pass; the first prints a line. */
  | 'pass'
  /** Step `test` exits 3 after a passing step. */
  | 'fail'
  /** Runs until aborted (prints a line first). */
  | 'hang'
  /** Runs past the job's timeout. */
  | 'timeout'
  /** Passes and produces output `dist` (the same bytes every run). */
  | 'outputs'
  /** The infrastructure fails before any step (a git input that does not exist). */
  | 'broken';

export interface OpenedExecutor {
  readonly executor: Executor;
  /** A fresh spec (new build id) for `scenario`. */
  spec(scenario: Scenario): RunSpec;
  /** Resolves once the run of `spec` is under way (its step started). Bounded. */
  untilRunning(spec: RunSpec, logBytes: () => number): Promise<void>;
  dispose(): Promise<void>;
}

export interface ExecutorAdapter {
  readonly name: string;
  /** The adapter writes a build log and reports its growth through `logAdvanced`. */
  readonly writesLogs: boolean;
  open(): Promise<OpenedExecutor>;
}

let nextBuildId = 1000;

function jobDef(name: string, steps: StepDef[], extra: Partial<JobDef> = {}): JobDef {
  return {
    name,
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

const step = (name: string, run: string): StepDef => ({ name, run, env: {}, timeoutMs: null });

async function until(done: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error(`waited 10 s for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const localExecutor: ExecutorAdapter = {
  name: 'local',
  writesLogs: true,
  async open() {
    const dataDir = await mkdtemp(join(tmpdir(), 'nightless-exec-conf-'));
    const executor = new LocalExecutor({
      dataDir,
      artifacts: new ContentStore(dataDir),
      killGraceMs: 300,
    });
    const missingRepo: RunInput = {
      source: 'app',
      version: 'a'.repeat(40),
      ref: 'main',
      origin: 'manual',
      eventId: null,
      def: {
        kind: 'git',
        name: 'app',
        url: join(dataDir, 'no-such-repo.git'),
        branches: ['main'],
        webhookSecret: null,
        fallbackPollMs: null,
        quietPeriodMs: null,
      },
      files: [],
    };
    const jobs: Record<Scenario, { job: JobDef; inputs?: RunInput[] }> = {
      pass: { job: jobDef('build', [step('hello', 'echo hello'), step('two', 'true')]) },
      fail: { job: jobDef('build', [step('ok', 'true'), step('test', 'exit 3')]) },
      hang: { job: jobDef('build', [step('wait', 'echo started; sleep 30')]) },
      timeout: {
        job: jobDef('build', [step('wait', 'echo started; sleep 30')], { timeoutMs: 500 }),
      },
      outputs: {
        job: jobDef('build', [step('make', 'mkdir -p dist && printf hi > dist/a.txt')], {
          outputs: { dist: ['dist/*'] },
        }),
      },
      broken: { job: jobDef('build', [step('never', 'true')]), inputs: [missingRepo] },
    };
    return {
      executor,
      spec: (s) => ({
        buildId: nextBuildId++,
        job: jobs[s].job,
        inputs: jobs[s].inputs ?? [],
        secretValues: [],
        env: {},
      }),
      untilRunning: (_spec, logBytes) => until(() => logBytes() > 0, 'the step to print'),
      async dispose() {
        execFileSync('chmod', ['-R', 'u+w', dataDir]);
        await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
      },
    };
  },
};

export const scriptedExecutor: ExecutorAdapter = {
  name: 'scripted (test double)',
  writesLogs: false,
  open() {
    const executor = new ScriptedExecutor();
    const make = (s: Scenario): JobDef => {
      // Scripted scenarios get one job name per run, so a script never leaks into another run;
      // unscripted ones keep one name, as output digests depend on it.
      const name = s === 'pass' || s === 'outputs' ? s : `${s}-${nextBuildId}`;
      switch (s) {
        case 'fail':
          executor.script(name, { state: 'failed', step: 'test', exitCode: 3 });
          break;
        case 'hang':
          executor.hold(name);
          break;
        case 'timeout':
          executor.script(name, { state: 'error', code: 'timeout', reason: 'timed out' });
          break;
        case 'broken':
          executor.script(name, { state: 'error', code: 'checkout', reason: 'no such repo' });
          break;
        case 'pass':
        case 'outputs':
          break;
      }
      return jobDef(name, [step('ok', 'true'), step('test', 'true')], {
        outputs: s === 'outputs' ? { dist: ['dist/*'] } : {},
      });
    };
    return Promise.resolve({
      executor,
      spec: (s) => {
        const job = make(s);
        return { buildId: nextBuildId++, job, inputs: [], secretValues: [], env: {} };
      },
      untilRunning: (spec) =>
        until(() => executor.running(spec.job.name).length > 0, `${spec.job.name} to run`),
      dispose: () => Promise.resolve(),
    });
  },
};

/** Every executor; a remote runner's agent-side executor is one more entry here. */
export const executorAdapters: readonly ExecutorAdapter[] = [localExecutor, scriptedExecutor];
