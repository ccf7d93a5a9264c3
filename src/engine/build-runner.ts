import type { Logger } from 'pino';
import type { Build } from '../core/build.js';
import type { JobDef, Pipeline } from '../core/pipeline.js';
import type { Executor, RunInput, RunResult } from '../executor/port.js';
import type { NewEvent, QueuePort } from '../store/ports.js';
import { SerialLoop } from './serial-loop.js';

export interface BuildRunnerDeps {
  readonly queue: QueuePort;
  readonly executor: Executor;
  readonly pipeline: () => Pipeline;
  readonly slots: number;
  readonly worker: string;
  readonly now: () => number;
  readonly logger: Logger;
  readonly buildUrl: (id: number) => string;
  readonly onStarted: (build: Build) => void;
  readonly onLog: (buildId: number, bytes: number) => void;
  /** The build finished and its output events are in the inbox. */
  readonly onFinished: (build: Build) => void;
  /**
   * Runs after the steps passed and before the result is recorded (the job's `publish:`
   * targets); it may turn the result into `error` (code `publish`). Must resolve, never reject.
   */
  readonly afterRun?: AfterRun;
}

export type AfterRun = (
  build: Build,
  job: JobDef,
  result: RunResult,
  signal: AbortSignal,
) => Promise<RunResult>;

/**
 * Local worker slots: claims queued builds from the durable queue while a slot is free and runs
 * them on the executor. Claims go through the store, so a build is never run twice.
 */
export class BuildRunner {
  private readonly running = new Map<
    number,
    { abort: AbortController; reason: string | null; done: Promise<void> }
  >();
  private readonly loop: SerialLoop;
  private stopping = false;

  constructor(private readonly deps: BuildRunnerDeps) {
    this.loop = new SerialLoop(
      () => this.fill(),
      (err) => deps.logger.error({ err }, 'claiming builds failed'),
    );
  }

  wake(): void {
    this.loop.wake();
  }

  get busySlots(): number {
    return this.running.size;
  }

  /** Kills a running build's process tree; `false` when this runner doesn't run it. Safe to call twice. */
  cancelRunning(id: number, reason: string): boolean {
    const run = this.running.get(id);
    if (!run) return false;
    run.reason ??= reason;
    run.abort.abort();
    return true;
  }

  /** Resolves when nothing is running and no claim is in progress. */
  async idle(): Promise<void> {
    for (;;) {
      await this.loop.idle();
      const runs = [...this.running.values()].map((r) => r.done);
      if (runs.length === 0) return;
      await Promise.all(runs);
    }
  }

  /**
   * Stops claiming and kills running builds without recording a result: the next start finds
   * them `running`, marks them `error: lost` and re-queues them, exactly as after a crash.
   */
  async stop(reason: string): Promise<void> {
    this.stopping = true;
    await this.loop.stop();
    for (const id of this.running.keys()) this.cancelRunning(id, reason);
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  private async fill(): Promise<void> {
    while (!this.stopping && this.running.size < this.deps.slots) {
      const build = await this.deps.queue.claimNextBuild(this.deps.worker, this.deps.now());
      if (!build) return;
      this.deps.onStarted(build);
      const abort = new AbortController();
      const entry = { abort, reason: null as string | null, done: Promise.resolve() };
      this.running.set(build.id, entry);
      entry.done = this.runOne(build, abort.signal, entry).finally(() => {
        this.running.delete(build.id);
        this.wake();
      });
    }
  }

  private async runOne(
    build: Build,
    signal: AbortSignal,
    entry: { reason: string | null },
  ): Promise<void> {
    const { deps } = this;
    const log = deps.logger.child({ build: build.id, job: build.job });
    let result: RunResult;
    let logBytes = 0;
    try {
      const pipeline = deps.pipeline();
      const job = pipeline.jobs.get(build.job);
      if (!job) {
        result = internalError(`job "${build.job}" is no longer in the pipeline`);
      } else {
        const inputs: RunInput[] = [];
        for (const input of build.inputs) {
          const def = pipeline.sources.get(input.source);
          if (!def) throw new Error(`source "${input.source}" is no longer in the pipeline`);
          const files =
            def.kind === 'job-output'
              ? await deps.queue.outputFiles(input.source, input.version)
              : [];
          inputs.push({ ...input, def, files });
        }
        const secretValues = [
          ...pipeline.secretValues,
          ...job.secrets.map((name) => process.env[name] ?? '').filter((v) => v !== ''),
        ];
        log.info('build started');
        result = await deps.executor.run(
          {
            buildId: build.id,
            job,
            inputs,
            secretValues,
            env: {
              NIGHTLESS_BUILD_URL: deps.buildUrl(build.id),
              NIGHTLESS_PIPELINE: pipeline.name,
            },
          },
          {
            stepStarted: () => undefined,
            stepFinished: () => undefined,
            logAdvanced: (bytes) => {
              logBytes = bytes;
              deps.onLog(build.id, bytes);
            },
          },
          signal,
        );
        if (result.state === 'passed' && job.publish.length > 0 && deps.afterRun)
          result = await deps.afterRun(build, job, result, signal);
      }
    } catch (err) {
      result = internalError(err instanceof Error ? err.message : String(err));
    }
    if (this.stopping) {
      log.warn('server stopping: build left for recovery at the next start');
      return;
    }
    if (result.state === 'cancelled' && entry.reason) result = { ...result, reason: entry.reason };
    const outputEvents: NewEvent[] =
      result.state === 'passed'
        ? result.outputs.map((o) => ({
            kind: 'source',
            source: `${build.job}.${o.name}`,
            version: o.digest,
            ref: null,
            origin: 'output',
            deliveryId: null,
            changedPaths: null,
            producedBy: build.id,
            receivedAt: deps.now(),
          }))
        : [];
    try {
      const finished = await deps.queue.finishBuild(
        build.id,
        { result, logBytes, outputEvents },
        deps.now(),
      );
      log.info({ state: finished.state, reason: finished.reason }, 'build finished');
      deps.onFinished(finished);
    } catch (err) {
      log.error({ err }, 'recording the build result failed');
    }
  }
}

function internalError(reason: string): RunResult {
  return {
    state: 'error',
    code: 'internal',
    step: null,
    reason,
    outputs: [],
    coverage: null,
    warnings: [],
  };
}
