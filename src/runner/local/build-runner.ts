import type { Logger } from 'pino';
import type { Build } from '../../core/build.js';
import { closingLine, storedReason } from '../../core/build-ending.js';
import { failureClassOf } from '../../core/failure-class.js';
import { retryPlan } from '../../core/retry-rule.js';
import type { JobDef, Pipeline } from '../../core/pipeline.js';
import type { Executor, RunInput, RunResult } from '../../executor/port.js';
import type { FinishedRun, NewEvent, QueuePort } from '../../store/ports.js';
import { isStoreUnavailable } from '../../store/ports/unavailable.js';
import { SerialLoop } from '../../async/serial-loop.js';
import type { Runner, RunnerEvents, StopMode } from '../port.js';
import { outputSourceName } from '../../core/output-source.js';
import { mergeTargetOf, untrustedReason, type TrustLookup } from '../build-trust.js';
import { claimableJobs } from '../../core/runs-on.js';
import { LEASE_LOST_REASON, LeaseRenewal, type SlotLeases } from './lease-renewal.js';
import type { RunningBuild } from './running-build.js';
import { ClaimsInDoubt } from './claims-in-doubt.js';
import { whileStoreDown, type StoreWait } from './while-store-down.js';

export type { SlotLeases } from './lease-renewal.js';

export interface BuildRunnerDeps extends RunnerEvents {
  readonly queue: QueuePort;
  readonly executor: Executor;
  readonly pipeline: () => Pipeline;
  readonly slots: number;
  readonly worker: string;
  readonly now: () => number;
  readonly logger: Logger;
  /**
   * The value of a job's `secrets:` name (the server's environment in `nightless serve`); the
   * values are masked in logs. Injected so the runner reads no process state.
   */
  readonly secret: (name: string) => string | undefined;
  /**
   * Runs after the steps passed and before the result is recorded (the job's `publish:`
   * targets); it may turn the result into `error` (code `publish`). Must resolve, never reject.
   */
  readonly afterRun?: AfterRun;
  /** Change requests and approvals; without it every change request build is untrusted. */
  readonly requests?: TrustLookup;
  /** Replicas: claim under a lease, renewed while the build runs (as agents'); absent: none. */
  readonly lease?: SlotLeases;
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
export class BuildRunner implements Runner {
  private readonly running = new Map<number, RunningBuild>();
  private readonly loop: SerialLoop;
  private stopping = false;
  private stopMode: StopMode = 'requeue';
  /**
   * Wakes the claim loop when the earliest retry's backoff ends. The retry itself waits in the
   * store (`notBefore`), so this timer only saves a poll: losing it with the process loses
   * nothing, the next start sets it again.
   */
  private retryWake: { at: number; timer: NodeJS.Timeout } | null = null;
  private readonly renewal: LeaseRenewal | null;
  private readonly doubt: ClaimsInDoubt | null;

  constructor(private readonly deps: BuildRunnerDeps) {
    this.renewal = deps.lease
      ? new LeaseRenewal({
          lease: deps.lease,
          worker: deps.worker,
          now: deps.now,
          logger: deps.logger,
          held: () =>
            [...this.running].filter(([, r]) => !r.recording && !r.leaseLost).map(([id]) => id),
          lost: (id) => this.leaseLost(id),
        })
      : null;
    this.doubt = deps.lease
      ? new ClaimsInDoubt({
          ...deps,
          port: deps.lease.port,
          running: () => [...this.running.keys()],
          handedBack: (b) => deps.onFinished(b),
        })
      : null;
    this.loop = new SerialLoop(
      () => this.fill(),
      (err) =>
        // The queue stays in the database: the next wake-up (at most the 2 s poll) claims again.
        isStoreUnavailable(err)
          ? deps.logger.warn(
              { reason: err.message },
              'claiming builds: the database is unavailable; trying again on the next wake-up',
            )
          : deps.logger.error({ err }, 'claiming builds failed'),
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
    // The reason reaches the executor, which writes it in the log's closing line.
    run.abort.abort(run.reason);
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
   * Stops claiming and ends what runs. `requeue` (a graceful shutdown): each build killed by the
   * stop goes back to `queued` (same build, one `queued` event, a closing line in its log) and
   * runs again at the next start; a build that ended on its own meanwhile is recorded as usual.
   * `abandon` (what a crash leaves; tests simulate one): nothing is recorded, and the next start
   * finds them `running`, marks them `error: lost` and re-queues them. Safe to call twice.
   */
  async stop(mode: StopMode): Promise<void> {
    if (!this.stopping) this.stopMode = mode;
    this.stopping = true;
    this.clearRetryWake();
    await this.loop.stop();
    for (const [id, run] of this.running) {
      // A build someone cancelled just before keeps that cancel; it is not re-queued.
      if (!run.abort.signal.aborted) run.stoppedForShutdown = true;
      this.cancelRunning(id, SHUTDOWN_REASON);
    }
    await Promise.all([...this.running.values()].map((r) => r.done));
    this.renewal?.stop();
  }

  /** A renewal found the build's lease gone: it runs elsewhere now; kill it, keep nothing. */
  private leaseLost(id: number): void {
    const run = this.running.get(id);
    // Ended meanwhile: its result was (or is being) recorded under the lease check.
    if (!run || run.recording) return;
    run.leaseLost = true;
    this.deps.logger.warn(
      { build: id },
      'build lease lost (expired while this replica did not renew it): steps killed, result discarded',
    );
    this.cancelRunning(id, LEASE_LOST_REASON);
  }

  private storeWait(build: number, log: Logger, signal?: AbortSignal): StoreWait {
    return { build, log, stopping: () => this.stopping, ...(signal ? { signal } : {}) };
  }

  /** Arms the wake-up for the earliest retry still in its backoff, if any. */
  private async armRetryWake(): Promise<void> {
    const now = this.deps.now();
    const at = await this.deps.queue.nextRetryAt(now);
    if (at === null || this.stopping) return;
    if (this.retryWake !== null && this.retryWake.at <= at) return;
    this.clearRetryWake();
    const timer = setTimeout(
      () => {
        this.retryWake = null;
        this.wake();
      },
      Math.max(0, at - now),
    );
    timer.unref();
    this.retryWake = { at, timer };
  }

  private clearRetryWake(): void {
    if (this.retryWake !== null) clearTimeout(this.retryWake.timer);
    this.retryWake = null;
  }

  private async fill(): Promise<void> {
    await this.doubt?.settle();
    while (!this.stopping && this.running.size < this.deps.slots) {
      // Local slots have no labels: jobs with `runs_on:` wait for an agent.
      const jobs = claimableJobs(this.deps.pipeline(), []);
      const now = this.deps.now();
      const leaseUntil = this.deps.lease ? now + this.deps.lease.ms : null;
      const claim = () =>
        this.deps.queue.claimNextBuild(
          this.deps.worker,
          now,
          jobs === null && leaseUntil === null ? undefined : { jobs, leaseUntil },
        );
      const build = await (this.doubt ? this.doubt.claim(claim) : claim());
      if (!build) {
        await this.armRetryWake();
        return;
      }
      this.deps.onStarted(build);
      const abort = new AbortController();
      const entry: RunningBuild = {
        abort,
        reason: null,
        stoppedForShutdown: false,
        leaseLost: false,
        recording: false,
        done: Promise.resolve(),
      };
      this.running.set(build.id, entry);
      entry.done = this.runOne(build, abort.signal, entry).finally(() => {
        this.running.delete(build.id);
        this.wake();
      });
    }
  }

  private async runOne(build: Build, signal: AbortSignal, entry: RunningBuild): Promise<void> {
    const { deps } = this;
    const log = deps.logger.child({ build: build.id, job: build.job });
    let result: RunResult;
    let logBytes = 0;
    // The executor writes the closing line of what it decided; an ending decided here (a failed
    // publish, an internal error) needs its own, or the log would not say how the build ended.
    let fromExecutor: RunResult | null = null;
    let secretValues: readonly string[] = [];
    try {
      const pipeline = deps.pipeline();
      const job = pipeline.jobs.get(build.job);
      if (!job) {
        result = internalError(`job "${build.job}" is no longer in the pipeline`);
      } else {
        // What the build needs from the store is read before any step runs; a database restart
        // here delays the build instead of ending it `error: internal`.
        const { inputs, untrusted } = await whileStoreDown(
          this.storeWait(build.id, log, signal),
          'the database is unavailable: starting the build once it is back',
          async () => {
            const inputs: RunInput[] = [];
            for (const input of build.inputs) {
              const def = pipeline.sources.get(input.source);
              if (!def) throw new Error(`source "${input.source}" is no longer in the pipeline`);
              const files =
                def.kind === 'job-output'
                  ? await deps.queue.outputFiles(input.source, input.version)
                  : [];
              const mergeTarget = await mergeTargetOf(deps.requests, input, def);
              inputs.push({ ...input, def, files, ...(mergeTarget ? { mergeTarget } : {}) });
            }
            return { inputs, untrusted: await untrustedReason(deps.requests, build.inputs) };
          },
        );
        secretValues = [
          ...pipeline.secretValues,
          ...job.secrets.map((name) => deps.secret(name) ?? '').filter((v) => v !== ''),
        ];
        log.info(untrusted === null ? {} : { untrusted }, 'build started');
        result = await deps.executor.run(
          {
            buildId: build.id,
            job,
            inputs,
            secretValues,
            // NIGHTLESS_BUILD_URL and the other per-build variables are the executor's.
            env: { NIGHTLESS_PIPELINE: pipeline.name },
            ...(untrusted === null ? {} : { untrusted }),
          },
          {
            logAdvanced: (bytes) => {
              logBytes = bytes;
              deps.onLog(build.id, bytes);
            },
          },
          signal,
        );
        fromExecutor = result;
        // Untrusted code never reaches publish credentials (docs/change-requests.md).
        if (result.state === 'passed' && job.publish.length > 0 && deps.afterRun && !untrusted)
          result = await deps.afterRun(build, job, result, signal);
      }
    } catch (err) {
      result = internalError(err instanceof Error ? err.message : String(err));
    }
    if (this.stopping && this.stopMode === 'abandon') {
      log.warn('server stopping: build left for recovery at the next start');
      return;
    }
    if (entry.leaseLost) {
      // Another replica ended it `error: lost` and re-queued it: that run's result stands.
      log.warn({ state: result.state }, 'result discarded: the build lease was lost');
      return;
    }
    const append = async (text: string): Promise<void> => {
      const size = await deps.executor.appendSystemLine?.(build.id, text, secretValues);
      if (size === undefined || size === null) return;
      logBytes = size;
      deps.onLog(build.id, size);
    };
    if (entry.stoppedForShutdown && (result.state === 'cancelled' || result.state === 'error')) {
      // Killed by the shutdown, not by its own doing: the same build runs again at the next start.
      try {
        await append(REQUEUED_LINE);
        const queued = await deps.queue.requeueBuild(build.id, deps.now());
        log.warn('server stopping: build re-queued; it runs again at the next start');
        if (queued) deps.onFinished(queued);
      } catch (err) {
        log.error(
          { err },
          're-queueing the build at shutdown failed; the next start finds it lost',
        );
      }
      return;
    }
    if (result.state === 'cancelled' && entry.reason) result = { ...result, reason: entry.reason };
    const closing = (r: RunResult | null) =>
      r === null || r.state === 'passed' ? null : closingLine(r.state, storedReason(r));
    const line = closing(result);
    if (line !== null && line !== closing(fromExecutor)) await append(line);
    const outputEvents: NewEvent[] =
      result.state === 'passed'
        ? result.outputs.map((o) => ({
            kind: 'source',
            source: outputSourceName(build.job, o.name),
            version: o.digest,
            ref: null,
            origin: 'output',
            deliveryId: null,
            changedPaths: null,
            producedBy: build.id,
            receivedAt: deps.now(),
          }))
        : [];
    const retry = retryPlan(
      deps.pipeline().jobs.get(build.job)?.retry,
      build.attempt,
      failureClassOf(result),
    );
    // From here a renewal that finds the lease gone is the finish's own doing, not a loss.
    entry.recording = true;
    const run: FinishedRun = {
      result,
      logBytes,
      outputEvents,
      ...(retry === null ? {} : { retryAt: deps.now() + retry.delayMs }),
    };
    try {
      const lease = deps.lease;
      // `finishBuild` leaves an already-ended build alone, so a retry after a commit whose answer
      // was lost is harmless. Given up: the build is found lost at the next start (or by lease
      // expiry) and runs again.
      const finished = await whileStoreDown(
        this.storeWait(build.id, log),
        'the database is unavailable: recording the result again until it is back',
        () =>
          lease
            ? lease.port.finishLeased(build.id, deps.worker, run, deps.now())
            : deps.queue.finishBuild(build.id, run, deps.now()),
      );
      if (finished === null) {
        // Swept before the result got in (frozen or cut off): it is `error: lost` and re-queued.
        log.warn({ state: result.state }, 'result refused: the build lease was lost');
        return;
      }
      log.info({ state: finished.state, reason: finished.reason }, 'build finished');
      if (retry !== null)
        log.warn({ delayMs: retry.delayMs }, 'build failed for a retryable reason: retry queued');
      deps.onFinished(finished);
    } catch (err) {
      log.error({ err }, 'recording the build result failed');
    }
  }
}

/** Why builds are killed by a graceful shutdown (they are re-queued, not cancelled). */
const SHUTDOWN_REASON = 'server shutting down';
/** Follows the executor's `!!! cancelled: server shutting down`, so it does not say that again. */
const REQUEUED_LINE = '!!! re-queued: this build runs again from the start when the server starts';

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
