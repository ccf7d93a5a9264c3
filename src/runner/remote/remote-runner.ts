import type { Logger } from 'pino';
import type { Build } from '../../core/build.js';
import { closingLine } from '../../core/build-ending.js';
import { failureClassOf } from '../../core/failure-class.js';
import { outputSourceName } from '../../core/output-source.js';
import type { Pipeline } from '../../core/pipeline.js';
import { retryPlan } from '../../core/retry-rule.js';
import { claimableJobs } from '../../core/runs-on.js';
import type { Executor, LogReplica, RunResult } from '../../executor/port.js';
import type { AgentsPort, BuildDetail, NewEvent, QueuePort, ReadPort } from '../../store/ports.js';
import { untrustedReason, type TrustLookup } from '../build-trust.js';
import type { AfterRun } from '../local/build-runner.js';
import type { Runner, RunnerEvents, StopMode } from '../port.js';
import { LogSink } from './log-sink.js';
import { RunResultSchema } from './run-result-schema.js';
import { runSpecFor } from './run-spec.js';
import { SweepSchedule } from './sweep-schedule.js';

export interface RemoteRunnerDeps extends RunnerEvents {
  readonly queue: QueuePort;
  readonly agents: AgentsPort;
  readonly read: Pick<ReadPort, 'getBuild'>;
  readonly pipeline: () => Pipeline;
  readonly now: () => number;
  readonly logger: Logger;
  readonly secret: (name: string) => string | undefined;
  /** The server's log file of a build (agents' chunks are appended there). */
  readonly logFile: (buildId: number) => string;
  /** Where logs are copied for other replicas (PostgreSQL installations); default none. */
  readonly logReplica?: LogReplica;
  /** Closing lines of builds lost here (`error: lost`), in the log's own format. */
  readonly appendSystemLine: NonNullable<Executor['appendSystemLine']>;
  /** Link to the build page (`NIGHTLESS_BUILD_URL` on the agent). */
  readonly buildUrl: (buildId: number) => string;
  /** Whether the server's content store has a blob (outputs must be uploaded before the result). */
  readonly hasBlob: (digest: string) => Promise<boolean>;
  /** A lost build is re-queued while its attempt number is below this. */
  readonly maxAttempts: number;
  /** How long a claim or heartbeat keeps a lease; default 30 s. */
  readonly leaseMs?: number;
  /** How often expired leases are looked for while any build holds one; default 1 s. */
  readonly expiryCheckMs?: number;
  /**
   * How often they are looked for while no build holds one (nothing can expire; a lease taken
   * through another replica is found by the next look); default 10 s, at most a third of the lease.
   */
  readonly idleExpiryCheckMs?: number;
  readonly afterRun?: AfterRun;
  /** Change requests and approvals; without it every change request build is untrusted. */
  readonly requests?: TrustLookup;
}

/** How long a claim or heartbeat keeps a lease, for agents and replicas' own slots alike. */
export const DEFAULT_LEASE_MS = 30_000;

interface Hello {
  readonly name: string;
  readonly labels: readonly string[];
  readonly slots: number;
  readonly version: string;
  readonly running: readonly number[];
}

/**
 * Builds run by `nightless agent` processes (`runner/remote/`): agents long-poll `claim`, which
 * takes a build through the same durable claim as local slots, leased to the agent; heartbeats
 * renew the lease; an expired lease ends the build `error: lost` and re-queues it (up to
 * `maxAttempts`); only the lease holder may write the log or the result. Nothing here is the
 * truth: the database is, so a server restart loses no lease.
 */
export class RemoteRunner implements Runner {
  readonly leaseMs: number;
  /** Waiting claims and their agent's label set. */
  private readonly waiters = new Map<() => void, string>();
  private readonly cancels = new Map<number, string>();
  private leased = new Set<number>();
  private readonly sink: LogSink;
  private readonly sweeps: SweepSchedule;
  /** Leases extended at start; expiry waits for it. */
  private readonly ready: Promise<void>;
  private stopped = false;

  constructor(private readonly deps: RemoteRunnerDeps) {
    this.leaseMs = deps.leaseMs ?? DEFAULT_LEASE_MS;
    this.sink = new LogSink(deps.logFile, deps.logReplica);
    this.ready = deps.agents
      .extendAllLeases(deps.now() + this.leaseMs)
      .catch((err: unknown) => deps.logger.error({ err }, 'extending leases at start failed'));
    const checkMs = deps.expiryCheckMs ?? 1000;
    const idleMs = Math.min(deps.idleExpiryCheckMs ?? 10_000, Math.floor(this.leaseMs / 3));
    this.sweeps = new SweepSchedule({
      checkMs,
      idleMs: Math.max(checkMs, idleMs),
      pass: (outage) => this.expire(outage),
      failed: (err) => deps.logger.error({ err }, 'checking build leases failed'),
    });
  }

  /**
   * Wakes one waiting claim per distinct label set (not every agent: a herd of claims would queue
   * on the database); a claim that got a build wakes the next, so a burst still reaches them all.
   */
  wake(): void {
    const woken = new Set<string>();
    for (const [done, key] of [...this.waiters]) {
      if (woken.has(key)) continue;
      woken.add(key);
      this.waiters.delete(done);
      done();
    }
  }

  get busySlots(): number {
    return this.leased.size;
  }

  /** Asks the agent (at its next heartbeat) to kill the build; `false` when no agent runs it. */
  cancelRunning(id: number, reason: string): boolean {
    if (!this.leased.has(id)) return false;
    if (!this.cancels.has(id)) this.cancels.set(id, reason);
    return true;
  }

  idle(): Promise<void> {
    return Promise.resolve();
  }

  /** Answers waiting claims with nothing and stops expiring leases; agents keep their builds. */
  stop(_mode: StopMode): Promise<void> {
    this.stopped = true;
    this.sweeps.stop();
    for (const done of [...this.waiters.keys()]) done();
    return Promise.resolve();
  }

  async claim(agent: Hello, waitMs: number, signal: AbortSignal) {
    const { deps } = this;
    await deps.agents.recordAgent(agent, deps.now());
    const deadline = deps.now() + waitMs;
    for (let i = 0; i < 100_000 && !this.stopped && !signal.aborted; i++) {
      const now = deps.now();
      const pipeline = deps.pipeline();
      const build = await deps.queue.claimNextBuild(agent.name, now, {
        jobs: claimableJobs(pipeline, agent.labels),
        leaseUntil: now + this.leaseMs,
      });
      if (build) {
        if (signal.aborted) {
          // The agent hung up while the claim ran: it would never know; put the build back.
          const back = await deps.queue.requeueBuild(build.id, deps.now());
          if (back) deps.onFinished(back);
          this.wake();
          return null;
        }
        this.leased.add(build.id);
        this.sweeps.leaseTaken();
        deps.onStarted(build);
        const spec = await runSpecFor(build, pipeline, deps);
        if ('missing' in spec) {
          // Nothing an agent could run: end it here, as local slots do.
          await this.finish(agent.name, build.id, internalError(spec.missing), 0);
          continue;
        }
        deps.logger.info({ build: build.id, job: build.job, agent: agent.name }, 'build leased');
        // There may be more: the next waiting agent tries too.
        this.wake();
        return { id: build.id, job: build.job, attempt: build.attempt, spec };
      }
      const left = deadline - deps.now();
      if (left <= 0) return null;
      // A retry waiting out its backoff (`not_before`) announces nothing when it becomes due.
      const due = await deps.queue.nextRetryAt(deps.now());
      const wait = due === null ? left : Math.min(left, Math.max(0, due - deps.now()) + 1);
      await this.waitForWake(wait, signal, [...agent.labels].sort().join(','));
      // Woken but gone (the agent hung up): pass the wake-up on.
      if (signal.aborted) this.wake();
    }
    return null;
  }

  async heartbeat(agent: Hello) {
    const { deps } = this;
    const now = deps.now();
    await deps.agents.recordAgent(agent, now);
    const keep = await deps.agents.renewLeases(agent.name, agent.running, now + this.leaseMs);
    if (keep.length > 0) this.sweeps.leaseTaken();
    const held = new Set(keep);
    return {
      keep,
      discard: agent.running.filter((id) => !held.has(id)),
      cancel: keep.flatMap((id) => {
        const reason = this.cancels.get(id);
        return reason === undefined ? [] : [{ id, reason }];
      }),
    };
  }

  async appendLog(agent: string, buildId: number, offset: number, bytes: Buffer) {
    const { deps } = this;
    // Renewing is the lease check: a chunk is a sign of life too.
    const held = await deps.agents.renewLeases(agent, [buildId], deps.now() + this.leaseMs);
    if (held.length === 0) return this.lost(buildId);
    const done = await this.sink.append(buildId, offset, bytes);
    if (typeof done !== 'number') return { refused: 'gap' as const, size: done.gap };
    deps.onLog(buildId, done);
    return { size: done };
  }

  async finish(agent: string, buildId: number, raw: unknown, logBytes: number) {
    const { deps } = this;
    const parsed = RunResultSchema.safeParse(raw);
    let result: RunResult = parsed.success
      ? parsed.data
      : internalError(`the agent sent an unreadable result: ${parsed.error.message}`);
    const pipeline = deps.pipeline();
    const build = await this.buildOf(buildId);
    const job = pipeline.jobs.get(build?.job ?? '');
    result = await this.checked(result);
    if (result.state === 'cancelled')
      result = { ...result, reason: this.cancels.get(buildId) ?? result.reason };
    // Untrusted code never reaches publish credentials (docs/change-requests.md), as on local slots.
    if (
      result.state === 'passed' &&
      build &&
      job &&
      job.publish.length > 0 &&
      deps.afterRun &&
      build.worker === agent &&
      (await untrustedReason(deps.requests, build.inputs)) === null
    )
      result = await deps.afterRun(build, job, result, AbortSignal.timeout(10 * 60_000));
    // The job's `retry:` rule, as local slots apply it: the retry is written with the ending.
    const retry = build ? retryPlan(job?.retry, build.attempt, failureClassOf(result)) : null;
    const outputEvents: NewEvent[] =
      result.state === 'passed'
        ? result.outputs.map((o) => ({
            kind: 'source',
            source: outputSourceName(job?.name ?? '', o.name),
            version: o.digest,
            ref: null,
            origin: 'output',
            deliveryId: null,
            changedPaths: null,
            producedBy: buildId,
            receivedAt: deps.now(),
          }))
        : [];
    const finished = await deps.agents.finishLeased(
      buildId,
      agent,
      {
        result,
        logBytes,
        outputEvents,
        ...(retry === null ? {} : { retryAt: deps.now() + retry.delayMs }),
      },
      deps.now(),
    );
    // `null`: lost (swept, or another agent's now); the agent's retry of a result already
    // recorded (its acknowledgement got lost) gets that recorded ending back.
    if (!finished) return this.lost(buildId);
    if (retry !== null)
      deps.logger.warn(
        { build: buildId, delayMs: retry.delayMs },
        'build failed for a retryable reason: retry queued',
      );
    this.leased.delete(buildId);
    this.cancels.delete(buildId);
    deps.logger.info({ build: buildId, agent, state: finished.state }, 'build finished on agent');
    deps.onFinished(finished);
    this.wake();
    return { build: finished };
  }

  async agents() {
    const { agents, byAgents } = await this.leases();
    return { agents, leased: byAgents };
  }

  /** The agents, every lease held (replicas' own slots' included) and those agents hold. */
  private async leases() {
    const [agents, leased] = await Promise.all([
      this.deps.agents.listAgents(),
      this.deps.agents.leasedBuilds(),
    ]);
    const names = new Set(agents.map((a) => a.name));
    return { agents, all: leased, byAgents: leased.filter((l) => names.has(l.worker)) };
  }

  private async checked(result: RunResult): Promise<RunResult> {
    for (const out of result.outputs)
      for (const f of out.files)
        if (!(await this.deps.hasBlob(f.digest)))
          return errorResult(
            'outputs',
            `output ${out.name}: ${f.path} was not uploaded (blob ${f.digest})`,
          );
    return result;
  }

  private buildOf(id: number): Promise<BuildDetail | null> {
    return this.deps.read.getBuild(id);
  }

  private async lost(buildId: number) {
    const build = await this.buildOf(buildId);
    this.leased.delete(buildId);
    return { refused: 'lost' as const, state: build ? describe(build) : 'gone' };
  }

  private waitForWake(ms: number, signal: AbortSignal, key: string): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done);
      this.waiters.set(done, key);
    });
  }

  /** One pass of the lease sweep (`SweepSchedule`): says whether any build still holds a lease. */
  private async expire(outage: boolean): Promise<boolean> {
    const { deps } = this;
    await this.ready;
    const now = deps.now();
    if (outage) {
      // The database was unreachable (or this process stalled): the agents' heartbeats were
      // refused with 503 through no fault of theirs, so every lease gets one more period from
      // now instead of all expiring at once. An agent that really died meanwhile is found a
      // lease later. Same grace as at start (`ready`).
      await deps.agents.extendAllLeases(now + this.leaseMs);
      deps.logger.info({ leaseMs: this.leaseMs }, 'leases extended after the database was back');
    }
    const { lost, requeued } = await deps.agents.expireLeases(now, deps.maxAttempts);
    for (const b of lost) {
      await deps.appendSystemLine(b.id, closingLine(b.state, b.reason));
      deps.logger.warn({ build: b.id, job: b.job, reason: b.reason }, 'build lost: lease expired');
      this.cancels.delete(b.id);
      deps.onFinished(b);
    }
    for (const b of requeued) deps.onFinished(b);
    if (requeued.length > 0) this.wake();
    const { all, byAgents } = await this.leases();
    // Agents' leases only: server replicas lease the builds of their own slots too.
    this.leased = new Set(byAgents.map((b) => b.id));
    return all.length > 0;
  }
}

function describe(build: Build): string {
  return build.reason ? `${build.state}: ${build.reason}` : build.state;
}

function internalError(reason: string): RunResult {
  return errorResult('internal', reason);
}

function errorResult(code: 'internal' | 'outputs', reason: string): RunResult {
  return {
    state: 'error',
    code,
    step: null,
    reason,
    outputs: [],
    coverage: null,
    warnings: [],
  };
}
