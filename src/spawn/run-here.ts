import { spawn, type ChildProcess } from 'node:child_process';
import { MAX_TIMER_MS } from './helper-messages.js';
import { waitingAhead } from './proc-files.js';
import type { HeldRun, HoldRequest, RunRequest, RunResult, RunTicket } from './run-request.js';

/**
 * Runs `req` from this process: what the helper program does (`helper-program.ts`), for when
 * the helper cannot be started, and for a process that is small itself (`runProgramsHere`).
 */
export function runHere(req: RunRequest): Promise<RunResult> {
  const after = req.after;
  const done = after === undefined ? start(req) : followHere({ ...req, after }, start);
  req.onTicket?.({ done });
  return done;
}

/** Whether a run ended as `after` requires: exit code 0, nothing killed it, nothing failed. */
function succeeded(r: RunResult): boolean {
  return r.code === 0 && r.error === null && !r.timedOut && !r.stalled;
}

/**
 * `req` once its `after` run has succeeded, through `start`; otherwise not started. An abort
 * while it waits ends the wait at once, as a kill ends a waiting run in the helper.
 */
export async function followHere(
  req: RunRequest & { readonly after: RunTicket },
  start: (req: RunRequest) => Promise<RunResult>,
): Promise<RunResult> {
  const { signal } = req;
  let onAbort = (): void => undefined;
  const aborted = new Promise<null>((resolve) => {
    onAbort = () => resolve(null);
    if (signal?.aborted === true) resolve(null);
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
  const before = await Promise.race([req.after.done, aborted]);
  signal?.removeEventListener('abort', onAbort);
  if (before === null) return notStarted('killed before it started');
  if (!succeeded(before)) return notStarted('the run it follows failed');
  return start({ ...req, after: undefined, onTicket: undefined });
}

/** `ProcessHelper.hold` from this process: the program forked from here, now. */
export function holdHere(req: HoldRequest): HeldRun {
  const hold: Hold = { begin: undefined };
  const done = start(req, hold);
  return {
    release: ({ signal, onTicket } = {}) => {
      const begin = hold.begin;
      // Its end may not have been read yet: a program found dead now never ran.
      if (begin === undefined || (hold.child !== undefined && !waitingAhead(hold.child)))
        return undefined;
      hold.begin = undefined;
      begin(signal);
      onTicket?.({ done });
      return done;
    },
    discard: () => {
      const begin = hold.begin;
      if (begin === undefined) return Promise.resolve(); // released (or discarded) already
      hold.begin = undefined;
      begin(AbortSignal.abort());
      return done.then(() => undefined);
    },
  };
}

/** A held program's start: `begin` until its run begins or the program ends. */
interface Hold {
  begin: ((signal: AbortSignal | undefined) => void) | undefined;
  child?: ChildProcess;
}

function notStarted(why: string): RunResult {
  return result(null, null, '', '', false, false, `not started: ${why}`);
}

/** Runs `req` now, or with `hold` starts its program now and its run at `hold.begin`. */
function start(req: RunRequest, hold?: Hold): Promise<RunResult> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(req.file, [...req.args], {
        cwd: req.cwd,
        env: req.env,
        stdio: [hold === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
        // Its own process group: a program's helpers (git-remote-http, ssh) hold the pipes open,
        // so killing the program alone would leave it "running" until they give up.
        detached: true,
      });
    } catch (err) {
      resolve(
        result(null, null, '', '', false, false, err instanceof Error ? err.message : String(err)),
      );
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let stalled = false;
    const kill = (): void => {
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL'); // the group is gone already, or was never made
      }
    };
    let watchdog: NodeJS.Timeout | undefined;
    let timer: NodeJS.Timeout | undefined;
    let runSignal: AbortSignal | undefined;
    let running = false;
    const stall = req.stall;
    const arm = (ms: number | undefined): void => {
      if (!running || ms === undefined) return;
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        kill();
      }, ms);
    };
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < req.maxOutputChars) stdout += d;
      arm(stall?.everyMs);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (req.stderrTail === true) {
        stderr += d;
        if (stderr.length > req.maxOutputChars) stderr = stderr.slice(-req.maxOutputChars);
      } else if (stderr.length < req.maxOutputChars) stderr += d;
      arm(stall?.everyMs);
    });
    // A program that ends while held closes the pipe: nothing to report but its end.
    child.stdin?.on('error', () => undefined);
    const begin = (signal: AbortSignal | undefined): void => {
      running = true;
      runSignal = signal;
      child.stdin?.end();
      arm(stall?.firstMs);
      timer = setTimeout(
        () => {
          timedOut = true;
          kill();
        },
        Math.min(req.timeoutMs, MAX_TIMER_MS),
      );
      if (signal?.aborted === true) kill();
      else signal?.addEventListener('abort', kill, { once: true });
    };
    if (hold === undefined) begin(req.signal);
    else {
      hold.begin = begin;
      hold.child = child;
    }
    let finished = false;
    const done = (code: number | null, signal: string | null, error: string | null): void => {
      if (finished) return;
      finished = true;
      if (hold !== undefined) hold.begin = undefined;
      clearTimeout(timer);
      clearTimeout(watchdog);
      runSignal?.removeEventListener('abort', kill);
      resolve(result(code, signal, stdout, stderr, timedOut, stalled, error));
    };
    child.once('error', (err) => done(null, null, err.message));
    child.once('close', (code, signal) => done(code, signal, null));
  });
}

function result(
  code: number | null,
  signal: string | null,
  stdout: string,
  stderr: string,
  timedOut: boolean,
  stalled: boolean,
  error: string | null,
): RunResult {
  return { code, signal, stdout, stderr, timedOut, stalled, error };
}
