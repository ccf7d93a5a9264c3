import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ContentStore } from '../artifacts/content-store.js';
import { LocalExecutor } from '../executor/local-executor.js';
import { logPath } from '../executor/log-reader.js';
import type { WorkspacesOptions } from '../executor/workspace.js';
import { DEFAULT_NETWORK_LIMITS, type JobDef, type NetworkLimits } from '../core/pipeline.js';
import type { RunInput, RunResult } from '../executor/port.js';
import { BlobTransfer } from './blobs.js';
import { LogUploader } from './log-uploader.js';
import { PendingResults, RunningMarkers, type PendingResult } from './pending-results.js';
import { jsonOf, ServerClient, ServerUnreachable, sleep } from './server-client.js';

export interface AgentOptions {
  readonly servers: readonly string[];
  readonly token: string;
  readonly name: string;
  readonly slots: number;
  readonly labels: readonly string[];
  readonly workDir: string;
  readonly version: string;
  readonly logger: Logger;
  /** How long one claim waits on the server for a build; default 20 s. */
  readonly claimWaitMs?: number;
  readonly connectTimeoutMs?: number;
  /** How long failed builds' workspaces and idle warm trees are kept, and a size cap. */
  readonly workspaces?: Partial<WorkspacesOptions>;
}

interface Claimed {
  readonly id: number;
  readonly job: string;
  readonly attempt: number;
  readonly spec: {
    readonly job: JobDef;
    readonly inputs: readonly RunInput[];
    readonly secretValues: readonly string[];
    readonly env: Readonly<Record<string, string>>;
    readonly buildUrl: string;
    /** Why the build is untrusted (a fork's unapproved change request): its steps are sandboxed. */
    readonly untrusted?: string;
    /** The pipeline's `network:` limits for git (absent: the defaults). */
    readonly network?: NetworkLimits;
  };
}

interface Run {
  readonly abort: AbortController;
  /** The server took the build away (lease lost): kill it, drop the result. */
  discarded: boolean;
  cancelReason: string | null;
}

/** Results are retried this long before the agent gives up on a server (a day). */
const DELIVERY_ATTEMPTS = 10_000;

/**
 * `nightless agent`: claims builds from the server (long poll), runs them with the local
 * executor in its own work directory (own git mirrors, workspaces, content store), streams logs
 * and uploads outputs, and delivers each result until the server acknowledges it. Heartbeats
 * renew the leases of running builds; a build the server says is lost is killed and discarded.
 */
export class Agent {
  private readonly client: ServerClient;
  private readonly executor: LocalExecutor;
  private readonly store: ContentStore;
  private readonly blobs: BlobTransfer;
  private readonly results: PendingResults;
  private readonly markers: RunningMarkers;
  private readonly runs = new Map<number, Run>();
  private readonly urls = new Map<number, string>();
  /** Results not acknowledged yet: their leases are renewed too, so they are not lost meanwhile. */
  private readonly delivering = new Set<number>();
  private readonly stopping = new AbortController();
  private leaseMs = 30_000;
  private loops: Promise<void>[] = [];
  private heartbeatTimer: NodeJS.Timeout | null = null;

  constructor(private readonly opts: AgentOptions) {
    this.client = new ServerClient({
      servers: opts.servers,
      token: opts.token,
      ...(opts.connectTimeoutMs === undefined ? {} : { connectTimeoutMs: opts.connectTimeoutMs }),
      onRetry: (what, err, delayMs) =>
        opts.logger.warn({ call: what, err, retryInMs: delayMs }, 'server call failed; retrying'),
    });
    this.store = new ContentStore(opts.workDir);
    this.executor = new LocalExecutor({
      dataDir: opts.workDir,
      artifacts: this.store,
      buildUrl: (id) => this.urls.get(id) ?? '',
      workspaces: opts.workspaces,
    });
    this.blobs = new BlobTransfer(this.client, this.store, join(opts.workDir, 'downloads'));
    this.results = new PendingResults(opts.workDir);
    this.markers = new RunningMarkers(opts.workDir);
  }

  /** Cleans up after a previous life, delivers its kept results, then claims in `slots` loops. */
  async start(): Promise<void> {
    const { logger } = this.opts;
    for (const id of await this.markers.list()) {
      const killed = await this.executor.reapLost(id);
      logger.warn({ build: id, processes: killed }, 'killed what a build of a previous run left');
      await this.markers.remove(id);
    }
    for (const pending of await this.results.all()) void this.deliver(pending);
    this.executor.workspaces.startPruning(60 * 60 * 1000, logger);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs());
    for (let i = 0; i < this.opts.slots; i++) this.loops.push(this.claimLoop());
    logger.info(
      {
        name: this.opts.name,
        slots: this.opts.slots,
        labels: this.opts.labels,
        servers: this.opts.servers,
      },
      'agent started',
    );
  }

  /** Stops claiming; running builds finish and their results are delivered first. */
  async stop(): Promise<void> {
    this.stopping.abort();
    await Promise.all(this.loops);
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    await this.executor.stop();
  }

  private heartbeatMs(): number {
    return Math.max(500, Math.floor(this.leaseMs / 3));
  }

  private hello() {
    return {
      name: this.opts.name,
      labels: this.opts.labels,
      slots: this.opts.slots,
      version: this.opts.version,
      running: [...new Set([...this.runs.keys(), ...this.delivering])],
    };
  }

  private async claimLoop(): Promise<void> {
    const signal = this.stopping.signal;
    // The server waits at most a minute per claim.
    const waitMs = Math.min(60_000, this.opts.claimWaitMs ?? 20_000);
    for (let failures = 0; !signal.aborted;) {
      try {
        const answer = await this.client.call({
          method: 'POST',
          path: '/api/agent/claim',
          json: { ...this.hello(), waitMs },
          totalTimeoutMs: waitMs + 10_000,
          attempts: 1,
          signal,
        });
        const body = jsonOf<{ build: Claimed | null; leaseMs: number }>(answer, 'claim');
        failures = 0;
        this.setLease(body.leaseMs);
        if (body.build) await this.run(body.build);
      } catch (err) {
        failures++;
        const delay = Math.min(15_000, 250 * 2 ** Math.min(failures, 6));
        this.opts.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'claim failed');
        await sleep(delay, signal);
      }
    }
  }

  private setLease(ms: number): void {
    if (ms === this.leaseMs) return;
    this.leaseMs = ms;
    if (this.heartbeatTimer) clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => void this.heartbeat(), this.heartbeatMs());
  }

  private async heartbeat(): Promise<void> {
    if (this.runs.size === 0 && this.delivering.size === 0) return;
    try {
      const answer = await this.client.call({
        method: 'POST',
        path: '/api/agent/heartbeat',
        json: this.hello(),
        totalTimeoutMs: Math.max(1000, this.heartbeatMs()),
        attempts: 1,
      });
      const body = jsonOf<{
        discard: number[];
        cancel: Array<{ id: number; reason: string }>;
      }>(answer, 'heartbeat');
      for (const id of body.discard) this.discard(id);
      for (const c of body.cancel) {
        const run = this.runs.get(c.id);
        if (run && run.cancelReason === null) {
          run.cancelReason = c.reason;
          run.abort.abort(c.reason);
        }
      }
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'heartbeat failed');
    }
  }

  private discard(id: number): void {
    const run = this.runs.get(id);
    if (!run || run.discarded) return;
    run.discarded = true;
    this.opts.logger.warn({ build: id }, 'the server says the lease is lost: killing the build');
    run.abort.abort('lease lost: the server gave this build to another agent');
  }

  private async run(claimed: Claimed): Promise<void> {
    const { logger } = this.opts;
    const id = claimed.id;
    const log = logger.child({ build: id, job: claimed.job });
    const run: Run = { abort: new AbortController(), discarded: false, cancelReason: null };
    this.runs.set(id, run);
    this.urls.set(id, claimed.spec.buildUrl);
    await this.markers.add(id);
    // A log of the same id from another server (or an earlier life) must not be resent.
    await rm(logPath(this.opts.workDir, id), { force: true });
    const uploader = new LogUploader(
      this.client,
      this.opts.name,
      id,
      logPath(this.opts.workDir, id),
      () => this.discard(id),
    );
    let result: RunResult;
    let logBytes = 0;
    try {
      log.info('build started');
      await this.blobs.fetchInputs(claimed.spec.inputs);
      this.executor.mirrors.setNetworkLimits(claimed.spec.network ?? DEFAULT_NETWORK_LIMITS);
      result = await this.executor.run(
        {
          buildId: id,
          job: claimed.spec.job,
          inputs: claimed.spec.inputs,
          secretValues: claimed.spec.secretValues,
          env: claimed.spec.env,
          // The same isolation as on the server's own slots: sandboxed, no secrets (run-spec.ts).
          ...(claimed.spec.untrusted === undefined ? {} : { untrusted: claimed.spec.untrusted }),
        },
        {
          logAdvanced: (bytes) => {
            logBytes = bytes;
            uploader.kick(bytes);
          },
        },
        run.abort.signal,
      );
      if (!run.discarded) {
        await uploader.flush(logBytes);
        if (result.state === 'passed') await this.blobs.upload(result.outputs);
      }
    } catch (err) {
      result = {
        state: 'error',
        code: 'internal',
        step: null,
        reason: `agent ${this.opts.name}: ${(err as Error).message}`,
        outputs: [],
        coverage: null,
        warnings: [],
      };
    }
    // Until delivered, the lease is renewed through `delivering` (set before `runs` forgets it).
    this.delivering.add(id);
    this.runs.delete(id);
    await this.markers.remove(id);
    if (run.discarded || uploader.lost) {
      this.delivering.delete(id);
      log.warn('result discarded: the build is not ours any more');
      return;
    }
    await this.deliver({ buildId: id, result, logBytes });
  }

  /** Sends a result until the server answers; kept on disk meanwhile. */
  private async deliver(pending: PendingResult): Promise<void> {
    const log = this.opts.logger.child({ build: pending.buildId });
    await this.results.keep(pending);
    this.delivering.add(pending.buildId);
    try {
      const answer = await this.client.call({
        method: 'POST',
        path: `/api/agent/builds/${pending.buildId}/finish`,
        json: { agent: this.opts.name, result: pending.result, logBytes: pending.logBytes },
        totalTimeoutMs: 60_000,
        attempts: DELIVERY_ATTEMPTS,
      });
      if (answer.status === 200) log.info({ state: pending.result.state }, 'result delivered');
      else
        log.warn(
          { status: answer.status, body: answer.body.toString('utf8').slice(0, 300) },
          'result refused; discarded',
        );
      await this.results.done(pending.buildId);
    } catch (err) {
      if (!(err instanceof ServerUnreachable)) throw err;
      log.error({ err: err.message }, 'result not delivered; kept for the next start');
    } finally {
      this.delivering.delete(pending.buildId);
    }
  }
}
