import { spawn } from 'node:child_process';
import type { RunRequest, RunResult, RunTicket } from './process-helper.js';

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

function notStarted(why: string): RunResult {
  return result(null, null, '', '', false, false, `not started: ${why}`);
}

function start(req: RunRequest): Promise<RunResult> {
  return new Promise((resolve) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(req.file, [...req.args], {
        cwd: req.cwd,
        env: req.env,
        stdio: ['ignore', 'pipe', 'pipe'],
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
    const stall = req.stall;
    const arm = (ms: number): void => {
      clearTimeout(watchdog);
      watchdog = setTimeout(() => {
        stalled = true;
        kill();
      }, ms);
    };
    if (stall !== undefined) arm(stall.firstMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (stdout.length < req.maxOutputChars) stdout += d;
      if (stall !== undefined) arm(stall.everyMs);
    });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      if (req.stderrTail === true) {
        stderr += d;
        if (stderr.length > req.maxOutputChars) stderr = stderr.slice(-req.maxOutputChars);
      } else if (stderr.length < req.maxOutputChars) stderr += d;
      if (stall !== undefined) arm(stall.everyMs);
    });
    const timer = setTimeout(
      () => {
        timedOut = true;
        kill();
      },
      Math.min(req.timeoutMs, 2 ** 31 - 1),
    );
    if (req.signal?.aborted === true) kill();
    else req.signal?.addEventListener('abort', kill, { once: true });
    let finished = false;
    const done = (code: number | null, signal: string | null, error: string | null): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(watchdog);
      req.signal?.removeEventListener('abort', kill);
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
