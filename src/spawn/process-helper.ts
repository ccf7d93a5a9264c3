import { spawn, type ChildProcess } from 'node:child_process';
import { HELPER_PROGRAM } from './helper-program.js';
import { followHere, holdHere, runHere } from './run-here.js';
import {
  failed,
  MAX_TIMER_MS,
  runMessage,
  type DoneMessage,
  type Watched,
  type WatchMessage,
} from './helper-messages.js';
import type { HeldRun, HoldRequest, RunRequest, RunResult, RunTicket } from './run-request.js';

export type { HeldRun, HoldRequest, RunRequest, RunResult, RunTicket } from './run-request.js';
export type { Watched } from './helper-messages.js';

/**
 * Starting a program from the server costs a `fork()` of the whole server process (~200 MB of
 * heap: page tables copied, every page made copy-on-write) and blocks the event loop until the
 * program has started: 2–20 ms per process on a loaded 2-CPU VM, which showed as webhook p99 and
 * as most of the server's CPU in a round of 1,000 `git ls-remote` (bench/RESULTS.md, "Ingest").
 * The git commands of mirrors, start-early fetches and fallback checks therefore run from a
 * small long-lived helper process (`node -e`, ~40 MB) that spawns them and answers over IPC: the
 * server pays one message each way.
 */

/** A ticket of a run sent to a helper process: a run sent to the same helper follows it there. */
class HelperTicket implements RunTicket {
  constructor(
    readonly done: Promise<RunResult>,
    readonly helper: ChildProcess,
    readonly id: number,
  ) {}
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

/** After this many helpers in a row could not be started, programs run from this process. */
const MAX_START_FAILURES = 3;

/** A helper that died while it watched processes is replaced after this long (not in a loop)… */
const RESTART_WATCHER_MS = 500;
/** …unless this many in a row died within {@link SHORT_LIFE_MS}: then at the next run or watch. */
const MAX_SHORT_LIVES = 3;
const SHORT_LIFE_MS = 10_000;

/** One helper process, started on first use and again after it exits. */
export class ProcessHelper {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private readonly watching = new Map<number, WatchMessage>();
  /** Held programs not yet released (`hold`), by id: how each one's run is answered. */
  private readonly holding = new Map<number, (r: RunResult | Promise<RunResult>) => void>();
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
      const message = runMessage(id, req, {
        after: after instanceof HelperTicket ? after.id : null,
      });
      this.start(child, id, req, resolve, message, after?.done);
    });
    req.onTicket?.(ticket?.(done) ?? { done });
    return done;
  }

  /**
   * Starts `req`'s program in the helper now, its stdin held open, to be run later
   * (`HeldRun.release`). Held programs never keep this process alive. When the helper cannot be
   * started, the program is held from this process instead.
   */
  hold(req: HoldRequest): HeldRun {
    let child: ChildProcess;
    try {
      child = this.ensure();
    } catch {
      return holdHere(req);
    }
    const id = this.nextId++;
    const done = new Promise<RunResult>((resolve) => this.holding.set(id, resolve));
    const end = (): void => this.finish(id, failed('the spawn helper went away'));
    if (!this.send(child, runMessage(id, req, { after: null, held: true }), end)) end();
    // Discarded: still in `holding` until the helper answers for it (its end), never released.
    let discarded = false;
    return {
      release: ({ signal, onTicket } = {}) => {
        const resolve = this.holding.get(id);
        if (resolve === undefined || discarded) return undefined;
        this.holding.delete(id);
        this.start(child, id, { ...req, signal }, resolve, { t: 'release', id });
        onTicket?.(new HelperTicket(done, child, id));
        return done;
      },
      discard: () => {
        if (!this.holding.has(id)) return Promise.resolve(); // released, or ended while held
        if (!discarded) this.send(child, { t: 'kill', id }, end);
        discarded = true;
        return done.then(() => undefined);
      },
    };
  }

  /**
   * Sends `message` for run `id` (a `run`, or the `release` of a held one) and waits for its
   * answer: `req.signal` kills it, a backstop bounds the wait from when it can start (at once,
   * or when `after` settles), and an undelivered message runs the program from here instead.
   */
  private start(
    child: ChildProcess,
    id: number,
    req: RunRequest,
    resolve: Pending['resolve'],
    message: object,
    after?: Promise<unknown>,
  ): void {
    const onAbort = (): void => void this.send(child, { t: 'kill', id }, () => undefined);
    const pending: Pending = {
      req,
      resolve,
      backstop: undefined,
      detach: () => req.signal?.removeEventListener('abort', onAbort),
    };
    this.pending.set(id, pending);
    if (after === undefined) this.armBackstop(id, pending, child);
    else void after.then(() => this.armBackstop(id, pending, child));
    // While a run is pending the channel keeps this process alive (a CLI awaiting git).
    if (this.pending.size === 1) child.channel?.ref();
    if (!this.send(child, message, () => this.handBack(id, req))) this.handBack(id, req);
    else if (req.signal?.aborted === true) onAbort();
    else req.signal?.addEventListener('abort', onAbort, { once: true });
  }

  /**
   * A wedged helper must not hold a caller forever: the run's own timeout plus a grace period,
   * from when the run can start.
   */
  private armBackstop(id: number, pending: Pending, child: ChildProcess): void {
    if (this.pending.get(id) !== pending) return;
    pending.backstop = setTimeout(
      () => {
        if (this.pending.get(id) !== pending) return;
        this.finish(id, { ...failed('the spawn helper did not answer'), timedOut: true });
        child.kill('SIGKILL');
      },
      Math.min(pending.req.timeoutMs + BACKSTOP_GRACE_MS, MAX_TIMER_MS),
    );
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
      if (m.t !== 'done') return;
      // Released too late: the program had ended while held. It never ran: it runs afresh.
      if (m.held === true && this.pending.has(m.id)) this.handBack(m.id, null);
      else this.finish(m.id, m);
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
      for (const id of [...this.holding.keys()]) this.finish(id, failed(why));
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
    if (p === undefined) {
      // A held program that ended before its release: `release` finds it gone.
      this.holding.get(id)?.(r);
      this.holding.delete(id);
      return;
    }
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

  /**
   * The helper never ran `id`'s program: it runs from this process instead, or with `null` (the
   * helper is fine) afresh in the helper.
   */
  private handBack(id: number, req: RunRequest | null): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.backstop);
    p.detach();
    if (this.pending.size === 0) this.child?.channel?.unref();
    // Its ticket was handed out already; the run it follows is waited for here, if any.
    p.resolve(
      req === null
        ? this.run({ ...p.req, onTicket: undefined })
        : runHere({ ...req, onTicket: undefined }),
    );
  }

  private failAll(why: string): void {
    for (const id of [...this.pending.keys(), ...this.holding.keys()]) this.finish(id, failed(why));
  }
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

/** Holds `req`'s program (see `ProcessHelper.hold`) in the shared helper, or here. */
export function holdProcess(req: HoldRequest): HeldRun {
  return here ? holdHere(req) : processHelper.hold(req);
}
