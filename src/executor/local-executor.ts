import { join, resolve } from 'node:path';
import type { ContentStore } from '../artifacts/content-store.js';
import { closingLine, storedReason } from '../core/build-ending.js';
import { readCoverage } from './coverage/read-coverage.js';
import { formatDuration } from './format-duration.js';
import { GitMirrors } from './git-mirror.js';
import { BuildEnv, isolationOf } from './build-env.js';
import type { HeldStep } from './held-step.js';
import { materializeInputs, writeInputsFile } from './inputs.js';
import { logPath } from './log-reader.js';
import { LogWriter } from './log-writer.js';
import { collectOutputs } from './outputs.js';
import type {
  CollectedOutput,
  Executor,
  RunObserver,
  RunOutcome,
  LogReplica,
  RunResult,
  RunSpec,
} from './port.js';
import { RunError } from './run-error.js';
import { alternatesOf, type SandboxSpec } from './sandbox.js';
import { envSecrets } from './step-env.js';
import { killOrphans } from './orphans.js';
import { runStep } from './step-runner.js';
import { SpareShells } from './spare-shell.js';
import { stepVerdict } from './step-verdict.js';
import { scrubTree } from './warm-tree.js';
import {
  WORKSPACE_DEFAULTS,
  Workspaces,
  type WorkspaceDir,
  type WorkspacesOptions,
} from './workspace.js';

export interface LocalExecutorOptions {
  /** nightless' data directory: `workspaces/`, `git/`, `logs/` live below it. */
  readonly dataDir: string;
  readonly artifacts: ContentStore;
  /** Per-build log cap; default 100 MiB. */
  readonly logMaxBytes?: number;
  /** SIGTERM → SIGKILL delay on timeouts; default 2 s. Cancel uses at most 500 ms. */
  readonly killGraceMs?: number;
  /** How long failed builds' workspaces and warm trees are kept, and a size cap; see defaults. */
  readonly workspaces?: Partial<WorkspacesOptions> | undefined;
  /** Link to the build page, exported to steps as `NIGHTLESS_BUILD_URL`. */
  readonly buildUrl?: (buildId: number) => string;
  /** The bubblewrap program for `isolation: sandbox`; default `bwrap` from `PATH`. */
  readonly sandboxProgram?: string;
  /** Mirror cache to use (tests inject one with a counting git runner); default `<dataDir>/git`. */
  readonly mirrors?: GitMirrors;
  /** Where logs are copied for other replicas (PostgreSQL installations); default none. */
  readonly logReplica?: LogReplica;
}

const MiB = 1024 * 1024;
const MAX_CANCEL_GRACE_MS = 500;

/**
 * Runs builds on this machine: fresh workspace, inputs checked out, steps one after the other in
 * their own process groups, log to `<dataDir>/logs/<id>.log`, coverage read, outputs stored.
 *
 * `run` never rejects: every problem is a `RunResult` (`failed` = a step said no, `error` = the
 * infrastructure did, with a stable code). Safe to call concurrently for different builds.
 */
export class LocalExecutor implements Executor {
  readonly workspaces: Workspaces;
  readonly mirrors: GitMirrors;
  private readonly logMaxBytes: number;
  private readonly killGraceMs: number;
  private readonly spares = new SpareShells();

  constructor(private readonly options: LocalExecutorOptions) {
    this.workspaces = new Workspaces(join(options.dataDir, 'workspaces'), {
      ...WORKSPACE_DEFAULTS,
      ...options.workspaces,
    });
    this.mirrors = options.mirrors ?? new GitMirrors(join(options.dataDir, 'git'));
    this.logMaxBytes = options.logMaxBytes ?? 100 * MiB;
    this.killGraceMs = options.killGraceMs ?? 2000;
  }

  /**
   * After the last build: ends the spare shell and warm trees' deferred cleans
   * ({@link Workspaces.stop}), then kills and awaits (≤ 5 s) the mirrors' git runs; returns how
   * many were still going then.
   */
  async stop(): Promise<number> {
    this.spares.stop();
    await this.workspaces.stop();
    return this.mirrors.close();
  }

  reapLost(buildId: number): Promise<number> {
    return killOrphans(join(this.options.dataDir, 'workspaces', String(buildId)));
  }

  reapAllLost(): Promise<number> {
    return killOrphans(join(this.options.dataDir, 'workspaces'), { under: true });
  }

  async appendSystemLine(
    buildId: number,
    text: string,
    secrets: readonly string[] = [],
  ): Promise<number | null> {
    try {
      await this.options.logReplica?.restore(buildId);
      const log = await LogWriter.open(logPath(this.options.dataDir, buildId), {
        maxBytes: this.logMaxBytes,
        secrets,
        onAdvance: () => undefined,
      });
      log.system(text);
      await log.close();
      this.options.logReplica?.grew(buildId);
      return log.error === null ? log.size : null;
    } catch {
      return null;
    }
  }

  async run(spec: RunSpec, observer: RunObserver, signal: AbortSignal): Promise<RunResult> {
    const warnings: string[] = [];
    // Only a git checkout is worth keeping: a job without one gains nothing from a warm tree.
    const hasGit = spec.inputs.some((i) => i.def.kind === 'git');
    // An untrusted build (a fork's request) neither starts in a kept tree nor leaves one: its steps
    // could plant objects, replace refs or hooks in `.git` that a trusted build's checkout obeys.
    const untrusted = spec.untrusted !== undefined;
    const warmJob = spec.job.workspace === 'fresh' || !hasGit || untrusted ? null : spec.job.name;
    let log: LogWriter | null = null;
    let workspaceCreated = false;
    let result: RunResult;
    try {
      if (signal.aborted)
        return finish({ state: 'cancelled', reason: cancelReason(signal) }, [], null, warnings);
      const replica = this.options.logReplica;
      // Another replica may have run an earlier attempt: this one's lines follow its lines.
      await replica?.restore(spec.buildId, signal);
      log = await LogWriter.open(logPath(this.options.dataDir, spec.buildId), {
        maxBytes: this.logMaxBytes,
        secrets: [
          ...spec.secretValues,
          ...envSecrets(spec.job.env, ...spec.job.steps.map((s) => s.env)),
        ],
        onAdvance: (size) => {
          replica?.grew(spec.buildId);
          safely(() => observer.logAdvanced(size));
        },
      });
      if (warmJob === null && !untrusted) await this.workspaces.discardWarm(spec.job.name);
      const workspace = await this.workspaces
        .create(spec.buildId, warmJob)
        .catch((err: unknown) => {
          throw new RunError('workspace', `cannot create workspace: ${(err as Error).message}`, {
            cause: err,
          });
        });
      workspaceCreated = true;
      result = await this.runIn(spec, workspace, log, signal, warnings);
    } catch (err) {
      // A git command killed by the abort fails as a checkout error; the truth is a cancel.
      const outcome: RunOutcome = signal.aborted
        ? { state: 'cancelled', reason: cancelReason(signal) }
        : errorOutcome(err);
      result = finish(outcome, [], null, warnings);
      log?.system(closingLine(result.state, storedReason(result)));
    }
    if (log !== null) {
      await log.close();
      if (log.error !== null) warnings.push(`log write failed: ${log.error.message}`);
    }
    if (workspaceCreated) {
      await this.workspaces
        .release(spec.buildId, result.state !== 'passed', warmJob, (dir) =>
          this.scrubTrees(dir, spec),
        )
        .catch((err: unknown) => {
          warnings.push(`workspace cleanup failed: ${(err as Error).message}`);
        });
      void this.workspaces.prune().catch(() => undefined);
    }
    return result;
  }

  /** Cleans a parked tree's git checkouts (the root, or one per git input); `false` on any failure. */
  private async scrubTrees(dir: string, spec: RunSpec): Promise<boolean> {
    const git = spec.inputs.filter((i) => i.def.kind === 'git');
    for (const i of git) {
      const tree = git.length === 1 ? dir : join(dir, i.source);
      if (i.def.kind !== 'git' || !(await scrubTree(this.mirrors, tree, i.def.url))) return false;
    }
    return true;
  }

  private async runIn(
    spec: RunSpec,
    ws: WorkspaceDir,
    log: LogWriter,
    signal: AbortSignal,
    warnings: string[],
  ): Promise<RunResult> {
    const env = new BuildEnv(spec, ws.dir, this.options.buildUrl);
    // Started while the commit is fetched; run if nothing turned out otherwise (see `HeldStep`).
    const held = env.holdFirstStep();
    try {
      return await this.runSteps(spec, ws, log, signal, warnings, env, held);
    } finally {
      await held?.discard();
    }
  }

  private async runSteps(
    spec: RunSpec,
    { dir: workspace, reused, scrubbed }: WorkspaceDir,
    log: LogWriter,
    signal: AbortSignal,
    warnings: string[],
    env: BuildEnv,
    held: HeldStep | undefined,
  ): Promise<RunResult> {
    const job = spec.job;
    const untrusted = spec.untrusted !== undefined;
    const inputs = await materializeInputs({
      workspace,
      inputs: spec.inputs,
      mirrors: this.mirrors,
      artifacts: this.options.artifacts,
      log,
      signal,
      reuse: reused,
      scrubbed,
    });
    await writeInputsFile(workspace, spec.buildId, job.name, inputs);
    const nightlessEnv = env.nightless(inputs);
    if (untrusted) log.system(`untrusted build: ${spec.untrusted}; secrets withheld, no publish`);
    const sandbox = await this.sandboxFor(spec, workspace, inputs, log);
    const jobDeadline =
      job.timeoutMs === null
        ? null
        : { at: Date.now() + job.timeoutMs, timeoutMs: job.timeoutMs, job: job.name };
    let outcome: RunOutcome = { state: 'passed' };
    for (const [index, step] of job.steps.entries()) {
      const quoted = JSON.stringify(step.name);
      log.system(`==> step ${quoted} (${index + 1}/${job.steps.length})`);
      const started = Date.now();
      const r = await runStep({
        name: step.name,
        script: step.run,
        cwd: workspace,
        // Untrusted code never sees the server's environment, sandboxed or not.
        env: env.step(step, nightlessEnv, sandbox !== undefined),
        ...(sandbox === undefined ? {} : { sandbox }),
        held: index === 0 ? held : undefined,
        spares: this.spares,
        log,
        stepTimeoutMs: step.timeoutMs,
        jobDeadline,
        noOutputTimeoutMs: job.noOutputTimeoutMs,
        killGraceMs: this.killGraceMs,
        cancelGraceMs: Math.min(this.killGraceMs, MAX_CANCEL_GRACE_MS),
        signal,
      });
      const took = formatDuration(Date.now() - started);
      const verdict = await stepVerdict(r, step.name, workspace, took);
      log.system(verdict.line);
      if (verdict.outcome === null) continue;
      outcome = verdict.outcome;
      break;
    }

    let coverage: RunResult['coverage'] = null;
    if (job.coverage !== null && outcome.state !== 'cancelled') {
      const c = await readCoverage(workspace, job.coverage);
      if (c.warning !== null) {
        warnings.push(c.warning);
        log.system(`warning: ${c.warning}`);
      } else {
        coverage = c.figures;
        // A figure the report does not measure is said so, not printed as "-%".
        const pct = (v: number | null) => (v === null ? 'not measured' : `${v}%`);
        log.system(`coverage: lines ${pct(c.figures.lines)}, branches ${pct(c.figures.branches)}`);
      }
    }

    let outputs: CollectedOutput[] = [];
    if (outcome.state === 'passed' && Object.keys(job.outputs).length > 0) {
      outputs = await collectOutputs(workspace, job.outputs, this.options.artifacts).catch(
        (err: unknown) => {
          if (err instanceof RunError) {
            outcome = { state: 'error', code: err.code, step: null, reason: err.message };
            return [];
          }
          throw err;
        },
      );
      // The output digest hashes the file list (paths and file sha256s), so it differs from a
      // one-file output's file sha256: the two are named apart and each file's own is listed.
      for (const o of outputs) {
        const n = o.files.length;
        log.system(`output ${o.name}: ${n} file${n === 1 ? '' : 's'}, output digest ${o.digest}`);
        for (const f of o.files) log.system(`  ${f.path}  file sha256 ${f.digest}`);
      }
    }
    if (outcome.state !== 'passed') log.system(closingLine(outcome.state, storedReason(outcome)));
    return finish(outcome, outputs, coverage, warnings);
  }

  /**
   * The sandbox a build's steps run in, `undefined` for `isolation: none`. Untrusted builds are
   * sandboxed unless the job explicitly says `none`.
   */
  private async sandboxFor(
    spec: RunSpec,
    workspace: string,
    inputs: readonly { readonly kind: string; readonly path: string | null }[],
    log: LogWriter,
  ): Promise<SandboxSpec | undefined> {
    if (isolationOf(spec) === 'none') return undefined;
    const network = spec.job.network === true;
    log.system(`sandbox: bubblewrap, network ${network ? 'on' : 'off'}`);
    const checkouts = inputs.filter((i) => i.kind === 'git' && i.path !== null);
    // bwrap binds absolute paths only; a data directory given relative is resolved here.
    return {
      workspace: resolve(workspace),
      hide: [resolve(this.options.dataDir)],
      readOnly: await alternatesOf(checkouts.map((i) => i.path as string)),
      network,
      ...(this.options.sandboxProgram === undefined
        ? {}
        : { program: this.options.sandboxProgram }),
    };
  }
}

function finish(
  outcome: RunOutcome,
  outputs: readonly CollectedOutput[],
  coverage: RunResult['coverage'],
  warnings: readonly string[],
): RunResult {
  return { ...outcome, outputs: outcome.state === 'passed' ? outputs : [], coverage, warnings };
}

function errorOutcome(err: unknown): RunOutcome {
  if (err instanceof RunError)
    return { state: 'error', code: err.code, step: err.step, reason: err.message };
  const message = err instanceof Error ? err.message : String(err);
  if ((err as { code?: unknown } | null)?.code === 'ENOSPC')
    return { state: 'error', code: 'disk', step: null, reason: `disk: ${message}` };
  return { state: 'error', code: 'internal', step: null, reason: `internal error: ${message}` };
}

/** The abort's reason when the canceller gave one (`cancelled by api`), else `cancelled`. */
function cancelReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  return typeof r === 'string' && r !== '' ? r : 'cancelled';
}

function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // RunObserver implementations must not throw; if one does, the build goes on.
  }
}
