import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { PROCESS_COOKIE_ENV } from './kill-tree.js';
import { waitingAhead } from '../spawn/proc-files.js';
import { endUnused } from './started-ahead.js';

/** What a step runs: `bash -eo pipefail -c <script>` in `cwd` with exactly `env`. */
export interface StepCommand {
  readonly script: string;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string>>;
}

/** A step's process as `runStep` supervises it: its own process group, stdout and stderr piped. */
export interface StepProcess {
  readonly child: ChildProcess;
  /** In the process's environment (`PROCESS_COOKIE_ENV`): finds what it leaves running. */
  readonly cookie: string;
}

/** The program a step runs: its script as one argument to bash (never spliced into shell text). */
export function stepShell(script: string): string[] {
  return ['bash', '-eo', 'pipefail', '-c', script];
}

/** Waits for one line on stdin, then becomes the step's shell, stdin on `/dev/null` as usual. */
const GATE = 'read -r go && exec "$@" </dev/null';
/** How long `discard` waits for the held process to be gone. */
const DISCARD_WAIT_MS = 2000;

/**
 * A build's first step started ahead of time and held at a gate (`sh` waiting for a line), so
 * that the `fork()` of the ~200 MB server (2–20 ms under load, blocking the event loop) happens
 * while the build's commit is still being fetched instead of between the checkout and the step.
 * Nothing of the step runs until `release`; the command it was started with must be the one the
 * build then runs (same script, directory and environment), otherwise it is discarded and the
 * step is spawned as usual.
 */
export class HeldStep {
  private state: 'held' | 'released' | 'gone' = 'held';
  private readonly exited: Promise<void>;

  private constructor(
    private readonly command: StepCommand,
    private readonly proc: StepProcess,
  ) {
    const { child } = proc;
    this.exited = new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', () => resolve());
    });
    void this.exited.then(() => {
      if (this.state === 'held') this.state = 'gone';
    });
    // A gate that died early makes the write fail; that case is seen through `exited`.
    child.stdin?.on('error', () => undefined);
  }

  static hold(command: StepCommand): HeldStep {
    const cookie = randomUUID();
    const child = spawn('/bin/sh', ['-c', GATE, 'sh', ...stepShell(command.script)], {
      cwd: command.cwd,
      env: { ...command.env, [PROCESS_COOKIE_ENV]: cookie },
      detached: true,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return new HeldStep(command, { child, cookie });
  }

  /**
   * Lets the held process run `command` and hands it over; `null` when it cannot (another
   * command, or the process is gone): it is then discarded and the caller spawns the step.
   */
  release(command: StepCommand): StepProcess | null {
    const { child } = this.proc;
    if (
      this.state !== 'held' ||
      !waitingAhead(child) ||
      !isDeepStrictEqual(command, this.command)
    ) {
      void this.discard();
      return null;
    }
    this.state = 'released';
    child.stdin?.end('go\n');
    return this.proc;
  }

  /** Ends the held process unless it was released (the build stopped before its first step). */
  async discard(): Promise<void> {
    if (this.state === 'released') return;
    this.state = 'gone';
    endUnused(this.proc.child);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.exited,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, DISCARD_WAIT_MS))),
    ]);
    clearTimeout(timer);
  }
}
