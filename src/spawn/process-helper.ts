import { spawn, type ChildProcess } from 'node:child_process';
import { HELPER_PROGRAM } from './helper-program.js';
import { followHere, runHere } from './run-here.js';

/**
 * Starting a program from the server costs a `fork()` of the whole server process (~200 MB of
 * heap: page tables copied, every page made copy-on-write) and blocks the event loop until the
 * program has started: 2–20 ms per process on a loaded 2-CPU VM, which showed as webhook p99 and
 * as most of the server's CPU in a round of 1,000 `git ls-remote` (bench/RESULTS.md, "Ingest").
 * The git commands of mirrors, start-early fetches and fallback checks therefore run from a
 * small long-lived helper process (`node -e`, ~40 MB) that spawns them and answers over IPC: the
 * server pays one message each way.
 */

export interface RunRequest {
  readonly file: string;
  /** An argument array: never shell text. */
  readonly args: readonly string[];
  readonly cwd?: string | undefined;
  /** The program's whole environment (the helper's own is not passed on). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The program (its process group) is killed after this long. */
  readonly timeoutMs: number;
  /**
   * Kill when the program writes nothing (stdout or stderr) for `everyMs`; the first output is
   * allowed `firstMs` (connect + stall).
   */
  readonly stall?: { readonly firstMs: number; readonly everyMs: number } | undefined;
  /** Characters of stdout (and of stderr) kept; the rest is dropped. */
  readonly maxOutputChars: number;
  /** Keep the end of stderr instead of its beginning (git's cause comes after its progress). */
  readonly stderrTail?: boolean;
  /** Kills the program's process group. */
  readonly signal?: AbortSignal | undefined;
  /**
   * Start only once this earlier run has ended with exit code 0 (and no error, timeout or
   * stall): in the helper the program starts the moment that run's program exits, with no round
   * trip through this process. After any other end it is not started (`error` says so).
   */
  readonly after?: RunTicket | undefined;
  /** Called with this run's ticket, before `run` returns: what a later run can follow. */
  readonly onTicket?: ((ticket: RunTicket) => void) | undefined;
}

/** A run handed to `run`, for a later run to follow (`RunRequest.after`). */
export interface RunTicket {
  readonly done: Promise<RunResult>;
}

/** A ticket of a run sent to a helper process: a run sent to the same helper follows it there. */
class HelperTicket implements RunTicket {
  constructor(
    readonly done: Promise<RunResult>,
    readonly helper: ChildProcess,
    readonly id: number,
  ) {}
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly stalled: boolean;
  /** The program could not be started (ENOENT...) or the helper failed; `null` otherwise. */
  readonly error: string | null;
}

interface Pending {
  readonly req: RunRequest;
  readonly resolve: (r: RunResult | Promise<RunResult>) => void;
  /** Armed once the run can start (a follower's, when the run it follows has ended). */
  backstop: NodeJS.Timeout | undefined;
  readonly detach: () => void;
}

/** How long past its own timeout a run waits for the helper's answer before giving up on it. */
const BACKSTOP_GRACE_MS = 10_000;

const MAX_TIMER_MS = 2 ** 31 - 1;

/** After this many helpers in a row could not be started, programs run from this process. */
const MAX_START_FAILURES = 3;

/** A helper that died while it watched processes is replaced after this long (not in a loop)… */
const RESTART_WATCHER_MS = 500;
/** …unless this many in a row died within {@link SHORT_LIFE_MS}: then at the next run or watch. */
const MAX_SHORT_LIVES = 3;
const SHORT_LIFE_MS = 10_000;

/** Processes the helper ends when this process dies (`watch`). */
export interface Watched {
  /** Their process group: signalled as a whole. */
  readonly pgid: number;
  /** `NAME=value` in the environment of each: catches those that left the group (`setsid`). */
  readonly mark: string;
  /** SIGTERM → SIGKILL delay. */
  readonly graceMs: number;
}

interface WatchMessage extends Watched {
  readonly t: 'watch';
  readonly id: number;
}

/** One helper process, started on first use and again after it exits. */
export class ProcessHelper {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly watching = new Map<number, WatchMessage>();
  private nextId = 1;
  private startFailures = 0;
  private shortLives = 0;

  /** `node`: the program that runs the helper (tests give one that does not exist). */
  constructor(private readonly node: string = process.execPath) {}

  /** The helper's process id while it runs (benchmarks add its CPU to the server's). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /**
   * Runs `req` in the helper. Never rejects: failures are in the result. When the helper cannot
   * be started or reached, the program runs from this process instead (it never ran there).
   */
  run(req: RunRequest): Promise<RunResult> {
    let ticket: ((done: Promise<RunResult>) => RunTicket) | undefined;
    const done = new Promise<RunResult>((resolve) => {
      const after = req.after;
      // A run that followed elsewhere (from this process, or an earlier helper) is waited for here.
      if (after !== undefined && !(after instanceof HelperTicket && after.helper === this.child)) {
        resolve(followHere({ ...req, after }, (r) => this.run(r)));
        return;
      }
      const id = this.nextId++;
      let child: ChildProcess;
      try {
        child = this.ensure();
      } catch {
        resolve(runHere({ ...req, onTicket: undefined }));
        return;
      }
      ticket = (promise) => new HelperTicket(promise, child, id);
      const onAbort = (): void => void this.send(child, { t: 'kill', id }, () => undefined);
      const pending: Pending = {
        req,
        resolve,
        backstop: undefined,
        detach: () => req.signal?.removeEventListener('abort', onAbort),
      };
      // A wedged helper must not hold a caller forever: its own timeout plus a grace period,
      // from when the run can start.
      const arm = (): void => {
        if (this.pending.get(id) !== pending) return;
        pending.backstop = setTimeout(
          () => {
            if (this.pending.get(id) !== pending) return;
            this.finish(id, { ...failed('the spawn helper did not answer'), timedOut: true });
            child.kill('SIGKILL');
          },
          Math.min(req.timeoutMs + BACKSTOP_GRACE_MS, MAX_TIMER_MS),
        );
      };
      this.pending.set(id, pending);
      if (after === undefined) arm();
      else void after.done.then(arm);
      // While a run is pending the channel keeps this process alive (a CLI awaiting git).
      if (this.pending.size === 1) child.channel?.ref();
      const sent = this.send(
        child,
        {
          t: 'run',
          id,
          file: req.file,
          args: req.args,
          cwd: req.cwd ?? null,
          env: req.env,
          // JSON has no Infinity, and timers take at most 2^31-1 ms.
          timeoutMs: Math.min(req.timeoutMs, MAX_TIMER_MS),
          stall: req.stall ?? null,
          maxOut: req.maxOutputChars,
          tailErr: req.stderrTail === true,
          after: after instanceof HelperTicket ? after.id : null,
        },
        () => this.handBack(id, req),
      );
      if (!sent) {
        this.handBack(id, req);
        return;
      }
      if (req.signal?.aborted === true) onAbort();
      else req.signal?.addEventListener('abort', onAbort, { once: true });
    });
    req.onTicket?.(ticket?.(done) ?? { done });
    return done;
  }

  /**
   * Makes the helper the lifeline of processes this process started itself: when this process
   * dies by any means (SIGKILL, OOM killer), the kernel closes the channel and the helper ends
   * them (SIGTERM, SIGKILL after `graceMs`). Costs one message now and one on `unwatch`, and no
   * process on the way: the processes run as before. Call it right after the spawn, before any
   * `await`. Returns `unwatch`, to call once the processes have ended. Without a helper (it
   * cannot start) nothing watches them; a helper that dies is replaced and told again.
   */
  watch(w: Watched): () => void {
    const id = this.nextId++;
    const msg: WatchMessage = { t: 'watch', id, pgid: w.pgid, mark: w.mark, graceMs: w.graceMs };
    this.watching.set(id, msg);
    const running = this.child;
    if (running !== null) this.send(running, msg, () => undefined);
    else this.tryEnsure(); // a new helper is told everything watched
    return () => {
      if (!this.watching.delete(id) || this.child === null) return;
      this.send(this.child, { t: 'unwatch', id }, () => undefined);
    };
  }

  /**
   * Ends the helper: closing the channel makes it kill its running programs and exit. Runs in
   * flight fail. Safe to call twice; the next run starts a new helper.
   */
  stop(): void {
    const child = this.child;
    if (child === null) return;
    this.child = null;
    if (child.connected) child.disconnect();
    else child.kill('SIGKILL');
    this.failAll('the spawn helper was stopped');
  }

  private ensure(): ChildProcess {
    if (this.child !== null) return this.child;
    if (this.startFailures >= MAX_START_FAILURES) throw new Error('the spawn helper cannot start');
    // Not the server's NODE_OPTIONS (a loader, a big heap): the helper needs plain node.
    const { NODE_OPTIONS: _o, NIGHTLESS_TOKEN: _t, ...env } = process.env;
    const child = spawn(this.node, ['-e', HELPER_PROGRAM], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      env,
    });
    let started = false;
    const startedAt = Date.now();
    child.once('spawn', () => {
      started = true;
      this.startFailures = 0;
    });
    child.on('message', (m: DoneMessage) => {
      if (m.t === 'done') this.finish(m.id, m);
    });
    const gone = (why: string): void => {
      if (this.child !== child) return;
      this.child = null;
      if (started) {
        this.failAll(why);
        this.shortLives = Date.now() - startedAt < SHORT_LIFE_MS ? this.shortLives + 1 : 0;
        // Processes still watched would have no lifeline until the next git command.
        if (this.watching.size > 0 && this.shortLives < MAX_SHORT_LIVES)
          setTimeout(() => {
            if (this.child === null && this.watching.size > 0) this.tryEnsure();
          }, RESTART_WATCHER_MS).unref();
        return;
      }
      // It never ran, and neither did the programs sent to it.
      this.startFailures++;
      for (const [id, p] of [...this.pending]) this.handBack(id, p.req);
    };
    child.on('error', (err) => gone(`the spawn helper failed: ${err.message}`));
    child.once('exit', (code, signal) =>
      gone(`the spawn helper exited (${signal ?? `exit code ${code ?? 'none'}`})`),
    );
    // Never what keeps nightless running: the channel is referenced only while runs are pending.
    child.unref();
    child.channel?.unref();
    this.child = child;
    for (const msg of this.watching.values()) this.send(child, msg, () => undefined);
    return child;
  }

  private tryEnsure(): void {
    try {
      this.ensure();
    } catch {
      // It cannot start: the programs run here, and nothing outlives this process to watch.
    }
  }

  /** `onError`: the message could not be written (the helper is going away). */
  private send(child: ChildProcess, msg: object, onError: (err: Error) => void): boolean {
    if (!child.connected) return false;
    try {
      child.send(msg, (err) => {
        if (err) onError(err);
      });
      return true;
    } catch {
      return false;
    }
  }

  private finish(id: number, r: RunResult): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.backstop);
    p.detach();
    if (this.pending.size === 0) this.child?.channel?.unref();
    p.resolve({
      code: r.code,
      signal: r.signal,
      stdout: r.stdout,
      stderr: r.stderr,
      timedOut: r.timedOut,
      stalled: r.stalled,
      error: r.error,
    });
  }

  /** The helper never ran `req`: run it from this process instead. */
  private handBack(id: number, req: RunRequest): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.backstop);
    p.detach();
    if (this.pending.size === 0) this.child?.channel?.unref();
    // Its ticket was handed out already; the run it follows is waited for here, if any.
    p.resolve(runHere({ ...req, onTicket: undefined }));
  }

  private failAll(why: string): void {
    for (const id of [...this.pending.keys()]) this.finish(id, failed(why));
  }
}

interface DoneMessage extends RunResult {
  readonly t: 'done';
  readonly id: number;
}

function failed(error: string): RunResult {
  return {
    code: null,
    signal: null,
    stdout: '',
    stderr: '',
    timedOut: false,
    stalled: false,
    error,
  };
}

/** The server's helper: git for mirrors, start-early fetches and fallback checks. */
export const processHelper = new ProcessHelper();

let here = false;

/**
 * From now on `runProcess` spawns from this process: for a process that is small itself (a
 * helper process of its own), where a fork costs little and a further hop would cost more.
 */
export function runProgramsHere(): void {
  here = true;
}

/** Runs `req` in the shared helper process (`processHelper`), or here (`runProgramsHere`). */
export function runProcess(req: RunRequest): Promise<RunResult> {
  return here ? runHere(req) : processHelper.run(req);
}
