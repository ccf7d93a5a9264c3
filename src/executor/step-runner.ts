import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import { processHelper } from '../spawn/process-helper.js';
import { formatDuration } from './format-duration.js';
import { stepShell, type HeldStep, type StepProcess } from './held-step.js';
import { killStepProcesses, PROCESS_COOKIE_ENV, startTicks } from './kill-tree.js';
import type { LogWriter } from './log-writer.js';
import { BWRAP, sandboxArgs, sandboxExitCode, type SandboxSpec } from './sandbox.js';
import type { SpareShells } from './spare-shell.js';

export interface StepRunOptions {
  readonly name: string;
  /** The user's script, run as `bash -eo pipefail -c <script>`. */
  readonly script: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
  readonly log: LogWriter;
  readonly stepTimeoutMs: number | null;
  /** Epoch ms when the job's overall `timeout` expires, and that timeout (for the reason text). */
  readonly jobDeadline: {
    readonly at: number;
    readonly timeoutMs: number;
    readonly job: string;
  } | null;
  readonly noOutputTimeoutMs: number | null;
  /** SIGTERM → SIGKILL delay for timeouts and for processes left behind by a finished step. */
  readonly killGraceMs: number;
  /** SIGTERM → SIGKILL delay on cancel: short, cancel must finish within a second. */
  readonly cancelGraceMs: number;
  readonly signal: AbortSignal;
  /** Run under bubblewrap (`isolation: sandbox`); `env` is then all the step sees. */
  readonly sandbox?: SandboxSpec;
  /** This step started ahead of time, used when it runs this very command (else discarded). */
  readonly held?: HeldStep | undefined;
  /** A shell started ahead of any step, used when there is no held step (`SpareShells`). */
  readonly spares?: SpareShells | undefined;
}

export type StepOutcome =
  | { readonly kind: 'exited'; readonly exitCode: number; readonly signal: NodeJS.Signals | null }
  | {
      readonly kind: 'timeout';
      readonly code: 'timeout' | 'step-timeout' | 'no-output-timeout';
      readonly reason: string;
    }
  | { readonly kind: 'cancelled'; readonly reason: string }
  | { readonly kind: 'spawn-error'; readonly reason: string }
  /** The sandbox could not start: the command never ran (never retried unsandboxed). */
  | { readonly kind: 'sandbox-error'; readonly reason: string };

type Stop = Extract<StepOutcome, { kind: 'timeout' | 'cancelled' }>;
type Exit =
  | { readonly code: number | null; readonly signal: NodeJS.Signals | null }
  | { readonly error: Error };

/** Spawns the step now (see `HeldStep` and `SpareShells` for one started ahead of time). */
function spawnStep(o: StepRunOptions): StepProcess {
  const cookie = randomUUID();
  const shell = stepShell(o.script);
  const [command, ...args] = o.sandbox
    ? [o.sandbox.program ?? BWRAP, ...sandboxArgs(o.sandbox), '--json-status-fd', '3', ...shell]
    : shell;
  const child = spawn(command ?? 'bash', args, {
    cwd: o.cwd,
    env: { ...o.env, [PROCESS_COOKIE_ENV]: cookie },
    detached: true, // own process group: one signal reaches the step's whole tree
    stdio: o.sandbox ? ['ignore', 'pipe', 'pipe', 'pipe'] : ['ignore', 'pipe', 'pipe'],
  });
  return { child, cookie };
}

/** How long to wait for the output pipes to close once every process is gone. */
const PIPE_CLOSE_WAIT_MS = 1000;

/**
 * Runs one step in its own process group and waits until it and everything it started are gone.
 *
 * Order of events: spawn → output streamed into the log → exit, timeout or cancel → every
 * remaining process of the step killed (group members and cookie-marked escapees; SIGTERM, then
 * SIGKILL after the grace) → output pipes drained → outcome. Never rejects.
 */
export async function runStep(o: StepRunOptions): Promise<StepOutcome> {
  if (o.signal.aborted) return { kind: 'cancelled', reason: abortReason(o.signal) };
  const command = { script: o.script, cwd: o.cwd, env: o.env };
  const early =
    o.sandbox === undefined ? (o.held?.release(command) ?? o.spares?.take(command) ?? null) : null;
  if (o.sandbox !== undefined) void o.held?.discard();
  const { child, cookie } = early ?? spawnStep(o);
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
    child.once('error', (error) => resolve({ error }));
  });
  let status = '';
  const statusPipe = o.sandbox ? (child.stdio[3] as Readable | null) : null;
  statusPipe?.setEncoding('utf8').on('data', (chunk: string) => {
    if (status.length < 64 * 1024) status += chunk;
  });
  const statusRead = new Promise<void>((resolve) => {
    if (statusPipe === null) resolve();
    else statusPipe.once('close', () => resolve()).once('error', () => resolve());
  });
  const pid = child.pid;
  if (pid === undefined) {
    const r = await exited;
    const why = 'error' in r ? r.error.message : 'spawn failed';
    return o.sandbox
      ? { kind: 'sandbox-error', reason: `cannot start the sandbox (${BWRAP}): ${why}` }
      : { kind: 'spawn-error', reason: why };
  }

  // Before any await: the step's first process may end at once, and is reaped on a later turn.
  const since = startTicks(pid);
  // The spawn helper outlives this process: if it dies (even SIGKILL), the helper ends the step
  // at once, rather than the step running on — beside its own re-run once the build is found
  // lost — until this data directory starts again. Told before any await: no window.
  const unwatch = processHelper.watch({
    pgid: pid,
    mark: `${PROCESS_COOKIE_ENV}=${cookie}`,
    graceMs: o.killGraceMs,
  });

  // Both are pipes (stdio above); the conditional stdio array only hides that from the types.
  const stdout = child.stdout as Readable;
  const stderr = child.stderr as Readable;
  let lastOutput = Date.now();
  const touch = (): void => {
    lastOutput = Date.now();
  };
  stdout.on('data', touch);
  stderr.on('data', touch);
  const drained = Promise.all([o.log.attach(stdout, 'o'), o.log.attach(stderr, 'e'), statusRead]);

  let resolveStop: (s: Stop) => void = () => undefined;
  const stopped = new Promise<Stop>((resolve) => (resolveStop = resolve));
  const timers: NodeJS.Timeout[] = [];
  const quoted = JSON.stringify(o.name);
  if (o.stepTimeoutMs !== null) {
    const reason = `step ${quoted} timed out after ${formatDuration(o.stepTimeoutMs)}`;
    timers.push(
      setTimeout(
        () => resolveStop({ kind: 'timeout', code: 'step-timeout', reason }),
        o.stepTimeoutMs,
      ),
    );
  }
  if (o.jobDeadline !== null) {
    const d = o.jobDeadline;
    const reason = `job ${JSON.stringify(d.job)} timed out after ${formatDuration(d.timeoutMs)} (in step ${quoted})`;
    timers.push(
      setTimeout(
        () => resolveStop({ kind: 'timeout', code: 'timeout', reason }),
        Math.max(0, d.at - Date.now()),
      ),
    );
  }
  if (o.noOutputTimeoutMs !== null) {
    const limit = o.noOutputTimeoutMs;
    const reason = `step ${quoted} printed nothing for ${formatDuration(limit)}`;
    const every = Math.max(10, Math.min(250, limit / 4));
    timers.push(
      setInterval(() => {
        if (Date.now() - lastOutput >= limit)
          resolveStop({ kind: 'timeout', code: 'no-output-timeout', reason });
      }, every),
    );
  }
  const onAbort = (): void => resolveStop({ kind: 'cancelled', reason: abortReason(o.signal) });
  o.signal.addEventListener('abort', onAbort, { once: true });

  const first = await Promise.race([exited, stopped]);
  for (const t of timers) clearTimeout(t);
  o.signal.removeEventListener('abort', onAbort);

  const stop = 'kind' in first ? first : null;
  // On a normal exit this removes what the step left running in the background; a build never
  // leaks daemons into the next one.
  await killStepProcesses(
    pid,
    cookie,
    stop?.kind === 'cancelled' ? o.cancelGraceMs : o.killGraceMs,
    since,
  );
  unwatch();
  const exit = stop === null ? (first as Exit) : await exited;
  await closePipes(drained, statusPipe ? [stdout, stderr, statusPipe] : [stdout, stderr]);

  if (stop !== null) return stop;
  if ('error' in exit) return { kind: 'spawn-error', reason: exit.error.message };
  if (o.sandbox && sandboxExitCode(status) === null)
    return {
      kind: 'sandbox-error',
      reason: `the sandbox (${BWRAP}) could not start the step: exit ${exit.code ?? exit.signal ?? '?'}; its message is in the log`,
    };
  const exitCode =
    exit.code ?? 128 + (exit.signal === null ? 0 : (constants.signals[exit.signal] ?? 0));
  return { kind: 'exited', exitCode, signal: exit.signal };
}

/** Waits for the log to consume both pipes; destroys them when something unkillable still holds them. */
async function closePipes(drained: Promise<unknown>, pipes: readonly Readable[]): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>(
    (resolve) => (timer = setTimeout(() => resolve(true), PIPE_CLOSE_WAIT_MS)),
  );
  const late = await Promise.race([drained.then(() => false), timedOut]);
  clearTimeout(timer);
  if (late) {
    for (const p of pipes) p.destroy();
    await drained;
  }
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === 'string' && r !== '') return r;
  if (r instanceof Error && r.name !== 'AbortError' && r.message !== '') return r.message;
  return 'cancelled';
}
