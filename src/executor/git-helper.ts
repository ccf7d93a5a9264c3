import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { spawnGit, type GitRunner, type GitRunOptions, type GitRunResult } from './git-runner.js';

/** Parent → helper. `options` without the signal (an abort is a `kill` message). */
export type HelperRequest =
  | {
      readonly t: 'run';
      readonly id: number;
      readonly args: readonly string[];
      readonly options: Omit<GitRunOptions, 'signal'>;
    }
  | { readonly t: 'kill'; readonly id: number };
/** Helper → parent: a command's result, or (once, first) that the helper is listening. */
export type HelperReply =
  { readonly id: number; readonly result: GitRunResult } | { readonly ready: true };

/** How the helper is started: its script and node's flags for it. */
export interface HelperScript {
  readonly script: string;
  readonly execArgv: readonly string[];
}

/**
 * After this many helper processes died, git is spawned directly again (a helper that cannot
 * live here must not cost every command a failed fork).
 */
const MAX_HELPER_DEATHS = 3;
/**
 * Beyond the command's own timeout (which the helper enforces), how long the parent waits for a
 * helper's answer before giving up on it: a wedged helper never holds a build forever.
 */
const ANSWER_GRACE_MS = 5_000;

interface Pending {
  readonly args: readonly string[];
  readonly options: GitRunOptions;
  readonly resolve: (r: GitRunResult) => void;
  readonly timer: NodeJS.Timeout;
  readonly cleanup: () => void;
}

/**
 * Runs git through a small long-lived helper process (`git-helper-main.ts`) instead of spawning
 * it from this process: a fork of the server (~150 MB mapped) costs several ms per git process,
 * and a push's path to its first step spawns git two to four times (bench/latency). Behaves like
 * `spawnGit` (same results, timeouts, network limits, abort), which it falls back to when the
 * helper cannot be started or keeps dying. Only the helper's IPC channel is used; it is not
 * kept referenced while idle, so it never holds the server's process open.
 */
export class GitHelper {
  private child: ChildProcess | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private deaths = 0;
  private stopped = false;
  /** The current helper said it listens: a command sent to it may have started git. */
  private ready = false;

  constructor(
    private readonly helper: HelperScript,
    private readonly fallback: GitRunner = spawnGit,
  ) {}

  readonly run: GitRunner = (args, options) => {
    if (options.signal?.aborted === true)
      return Promise.resolve({ exitCode: null, stdout: '', stderr: 'aborted', timedOut: false });
    const child = this.ensureChild();
    if (child === null) return this.fallback(args, options);
    const id = this.nextId++;
    const { signal, ...plain } = options;
    return new Promise<GitRunResult>((resolve) => {
      const onAbort = (): void => this.send({ t: 'kill', id });
      signal?.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => {
        this.settle(id, {
          exitCode: null,
          stdout: '',
          stderr: `the git helper did not answer within ${Math.round((options.timeoutMs + ANSWER_GRACE_MS) / 1000)} s`,
          timedOut: true,
        });
      }, options.timeoutMs + ANSWER_GRACE_MS);
      timer.unref();
      this.pending.set(id, {
        args,
        options,
        resolve,
        timer,
        cleanup: () => signal?.removeEventListener('abort', onAbort),
      });
      this.refWhileBusy();
      this.send({ t: 'run', id, args: [...args], options: plain }, () => {
        // Never delivered (the channel closed in between): git did not start; run it here.
        if (!this.pending.has(id)) return;
        this.forget(id);
        void this.fallback(args, options).then(resolve);
      });
    });
  };

  /** Starts the helper now rather than at the first command (a node start is tens of ms). */
  start(): void {
    this.ensureChild();
  }

  /** Ends the helper; later commands are spawned directly. */
  stop(): void {
    this.stopped = true;
    const child = this.child;
    this.child = null;
    if (child?.connected === true) child.disconnect();
  }

  private ensureChild(): ChildProcess | null {
    if (this.stopped || this.deaths >= MAX_HELPER_DEATHS) return null;
    if (this.child?.connected === true) return this.child;
    let child: ChildProcess;
    try {
      child = fork(this.helper.script, [], {
        execArgv: [...this.helper.execArgv],
        stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
        serialization: 'json',
      });
    } catch {
      this.deaths = MAX_HELPER_DEATHS;
      return null;
    }
    this.ready = false;
    child.on('message', (msg: HelperReply) => {
      if ('ready' in msg) this.ready = true;
      else this.settle(msg.id, msg.result);
    });
    child.once('error', () => this.lost(child));
    child.once('exit', () => this.lost(child));
    this.child = child;
    child.unref();
    this.unrefChannel(child);
    return child;
  }

  /**
   * The helper died. One that never said it listens (it cannot start here: a missing module, no
   * memory) ran no git: its commands run directly and so do all later ones. One that did fails
   * the commands it was running with a clear reason (git may have started: not run twice).
   */
  private lost(child: ChildProcess): void {
    if (this.child !== child) return;
    this.child = null;
    if (!this.ready) {
      this.deaths = MAX_HELPER_DEATHS;
      for (const [id, p] of [...this.pending]) {
        this.forget(id);
        void this.fallback(p.args, p.options).then(p.resolve);
      }
      return;
    }
    if (!this.stopped) this.deaths++;
    for (const id of [...this.pending.keys()])
      this.settle(id, {
        exitCode: null,
        stdout: '',
        stderr: 'the git helper process exited while git was running',
        timedOut: false,
      });
  }

  /** Sends `msg`; `undelivered` runs when it could not be handed to the helper. */
  private send(msg: HelperRequest, undelivered: () => void = () => undefined): void {
    const child = this.child;
    if (child?.connected !== true) {
      undelivered();
      return;
    }
    try {
      child.send(msg, (err) => {
        if (err) undelivered();
      });
    } catch {
      undelivered();
    }
  }

  private settle(id: number, result: GitRunResult): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.forget(id);
    p.resolve(result);
  }

  private forget(id: number): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    clearTimeout(p.timer);
    p.cleanup();
    if (this.pending.size === 0 && this.child !== null) this.unrefChannel(this.child);
  }

  /** A command in flight keeps the process alive, as a directly spawned git would. */
  private refWhileBusy(): void {
    const channel = (this.child as { channel?: { ref?: () => void } } | null)?.channel;
    channel?.ref?.();
  }

  private unrefChannel(child: ChildProcess): void {
    (child as { channel?: { unref?: () => void } }).channel?.unref?.();
  }
}

/**
 * The helper script beside this module: the compiled `.js` under `dist/` (the server as
 * installed). Running from the TypeScript sources (tests), the `.ts` through tsx only when
 * `fromSources` (a tsx start costs ~0.3 s per server; the suite starts hundreds). `null`: none.
 */
export function defaultHelperScript(fromSources = false): HelperScript | null {
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith('.js')) {
    const script = here.replace(/git-helper\.js$/, 'git-helper-main.js');
    return existsSync(script) ? { script, execArgv: [] } : null;
  }
  const script = here.replace(/git-helper\.ts$/, 'git-helper-main.ts');
  if (!fromSources || !existsSync(script)) return null;
  try {
    // Absolute: the helper resolves `--import` from its working directory (any directory).
    return { script, execArgv: ['--import', import.meta.resolve('tsx')] };
  } catch {
    return null;
  }
}
