import { createHash } from 'node:crypto';
import type { Executor, RunErrorCode, RunObserver, RunResult, RunSpec } from '../executor/port.js';

/** What one run of a job returns. `outputs` maps output name → digest (default: see below). */
export type ScriptedResult =
  | { readonly state: 'passed'; readonly outputs?: Readonly<Record<string, string>> }
  | { readonly state: 'failed'; readonly step?: string; readonly exitCode?: number }
  | { readonly state: 'error'; readonly code?: RunErrorCode; readonly reason?: string };

export interface ScriptedRun {
  readonly buildId: number;
  readonly job: string;
  /** Input source → version, as the build received them. */
  readonly inputs: Readonly<Record<string, string>>;
  /** `null` while the run is in progress. */
  state: RunResult['state'] | null;
}

const ANY = '*';

/**
 * An `Executor` test double: no processes, results scripted per job, and runs that can be held
 * "running" until released — so a test can send a burst of events while a build runs.
 *
 * Unscripted runs pass, and each declared output's digest is a hash of the job name, the
 * output name and the input versions: the same inputs give byte-identical output (what early
 * cutoff relies on), different inputs give different output.
 *
 * Contract as the `Executor` port: `run` never rejects; aborting the signal resolves
 * `cancelled` at once, held or not. Safe for several concurrent runs.
 */
export class ScriptedExecutor implements Executor {
  readonly runs: ScriptedRun[] = [];
  private readonly scripts = new Map<string, ScriptedResult[]>();
  private readonly holding = new Set<string>();
  private readonly gates = new Map<number, { job: string; open: () => void }>();
  private readonly waiters = new Set<() => void>();

  /** Queues results for the next runs of `job`, first in first out. */
  script(job: string, ...results: ScriptedResult[]): this {
    this.scripts.set(job, [...(this.scripts.get(job) ?? []), ...results]);
    return this;
  }

  /** From now on, runs of `job` (`*` = every job) stay running until `release`. */
  hold(job: string = ANY): this {
    this.holding.add(job);
    return this;
  }

  /**
   * Lets the held runs of `job` (`*` = all) finish. Unless `keepHolding`, new runs of it are no
   * longer held. Safe to call when nothing is held.
   */
  release(job: string = ANY, opts: { keepHolding?: boolean } = {}): void {
    if (!opts.keepHolding) {
      if (job === ANY) this.holding.clear();
      else this.holding.delete(job);
    }
    for (const [id, gate] of [...this.gates]) {
      if (job === ANY || gate.job === job) {
        this.gates.delete(id);
        gate.open();
      }
    }
  }

  /** How many runs are waiting for `release`. */
  get held(): number {
    return this.gates.size;
  }

  /** Runs in progress (of `job`, or all). */
  running(job?: string): ScriptedRun[] {
    return this.runs.filter((r) => r.state === null && (job === undefined || r.job === job));
  }

  /** Resolves once at least `count` runs (of `job`) are in progress; rejects after `timeoutMs`. */
  async waitUntilRunning(count: number, job?: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.running(job).length < count) {
      if (Date.now() > deadline) {
        throw new Error(
          `waited ${timeoutMs} ms for ${count} running build(s)${job ? ` of ${job}` : ''}`,
        );
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          this.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, 20);
        this.waiters.add(done);
      });
    }
  }

  async run(spec: RunSpec, _observer: RunObserver, signal: AbortSignal): Promise<RunResult> {
    const job = spec.job.name;
    const record: ScriptedRun = {
      buildId: spec.buildId,
      job,
      inputs: Object.fromEntries(spec.inputs.map((i) => [i.source, i.version])),
      state: null,
    };
    this.runs.push(record);
    this.notify();
    const scripted = this.scripts.get(job)?.shift() ?? { state: 'passed' };
    let aborted = signal.aborted;
    if (!aborted && (this.holding.has(ANY) || this.holding.has(job))) {
      aborted = await new Promise<boolean>((resolve) => {
        const onAbort = (): void => {
          this.gates.delete(spec.buildId);
          resolve(true);
        };
        signal.addEventListener('abort', onAbort, { once: true });
        this.gates.set(spec.buildId, {
          job,
          open: () => {
            signal.removeEventListener('abort', onAbort);
            resolve(false);
          },
        });
      });
    }
    const result: RunResult = aborted
      ? { state: 'cancelled', reason: 'cancelled', outputs: [], coverage: null, warnings: [] }
      : toResult(spec, scripted);
    record.state = result.state;
    this.notify();
    return result;
  }

  private notify(): void {
    for (const w of [...this.waiters]) {
      this.waiters.delete(w);
      w();
    }
  }
}

function toResult(spec: RunSpec, s: ScriptedResult): RunResult {
  const base = { outputs: [], coverage: null, warnings: [] };
  switch (s.state) {
    case 'failed': {
      const step = s.step ?? spec.job.steps[0]?.name ?? 'step';
      const exitCode = s.exitCode ?? 1;
      return {
        ...base,
        state: 'failed',
        step,
        exitCode,
        reason: `step "${step}" exited with ${exitCode}`,
      };
    }
    case 'error':
      return {
        ...base,
        state: 'error',
        code: s.code ?? 'internal',
        step: null,
        reason: s.reason ?? 'scripted error',
      };
    case 'passed':
      return {
        ...base,
        state: 'passed',
        outputs: Object.keys(spec.job.outputs).map((name) => ({
          name,
          digest: s.outputs?.[name] ?? defaultDigest(spec, name),
          files: [],
        })),
      };
  }
}

/** Output as a pure function of the job and its inputs. */
function defaultDigest(spec: RunSpec, output: string): string {
  const inputs = spec.inputs.map((i) => `${i.source}=${i.version}`).sort();
  return createHash('sha256')
    .update([spec.job.name, output, ...inputs].join('\n'))
    .digest('hex');
}
