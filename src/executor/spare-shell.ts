import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type { StepCommand, StepProcess } from './held-step.js';
import { PROCESS_COOKIE_ENV } from './kill-tree.js';
import { waitingAhead } from '../spawn/proc-files.js';
import { endUnused } from './started-ahead.js';

const ENV = '/usr/bin/env';

/**
 * Reads its command from stdin, then becomes the step's shell in the step's directory with
 * exactly the step's environment, stdin on `/dev/null` as usual. The first line holds the byte
 * lengths of the fields that follow (directory, script, then one per `NAME=value`); the fields
 * come as one block read with `read -N` (bash reads a pipe one byte per system call
 * otherwise: ~1.6 µs a byte on a slow VM). `--norc`: on a socket as stdin (node's pipes are
 * socket pairs) Debian's bash would read ~/.bashrc as if started by sshd.
 */
const GATE = `IFS=' ' read -r -a lens || exit 125
total=0; for n in "\${lens[@]}"; do total=$((total + n)); done
IFS= read -r -N "$total" all || exit 125
fields=(); at=0
for n in "\${lens[@]}"; do fields+=("\${all:at:n}"); at=$((at + n)); done
cd -- "\${fields[0]}" || exit 125
exec ${ENV} -i -- "\${fields[@]:2}" bash -eo pipefail -c "\${fields[1]}" </dev/null`;

/**
 * The server's step spawn is a `fork()` of the whole server, which blocks its event loop for as
 * long as the address space takes to copy: 4 ms at 44 MB of resident memory, 13–19 ms at
 * 245–445 MB on a slow 2-CPU VM (bench/RESULTS.md, "Latency"). That fork sat between "inputs in
 * place" and the step's first instruction for every build without a held step (a downstream
 * build's inputs are files, not a commit being fetched). One shell is therefore kept started
 * ahead of any build, in idle time; a step takes it and hands it its command (a few hundred
 * microseconds), and a new one is started once the step is on its way.
 *
 * Only unsandboxed steps use it (bubblewrap is the program there), and only commands whose text
 * an exec can carry (no NUL), so a spare never behaves differently from a spawn.
 */
export class SpareShells {
  private spare: StepProcess | null = null;
  private refill: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly usable = existsSync(ENV);

  /** @param refillDelayMs how long after a take the next spare is started */
  constructor(private readonly refillDelayMs = 100) {}

  /**
   * The spare shell, now running `command`; `null` when there is none ready (the first step
   * after the start, or two at once): the caller spawns the step. Either way a spare for the
   * next step is started once this one is on its way.
   */
  take(command: StepCommand): StepProcess | null {
    if (!this.usable || this.stopped) return null;
    const spare = this.spare;
    this.spare = null;
    this.scheduleRefill();
    const fields = fieldsOf(command, spare?.cookie ?? '');
    if (spare === null || fields === null || !waitingAhead(spare.child)) {
      if (spare !== null) endUnused(spare.child);
      return null;
    }
    const { child } = spare;
    child.ref();
    for (const s of [child.stdout, child.stderr]) (s as unknown as Refable | null)?.ref();
    const lengths = fields.map((f) => Buffer.byteLength(f)).join(' ');
    child.stdin?.end(`${lengths}\n${fields.join('')}`);
    return spare;
  }

  /** Ends the spare; none is started after this. */
  stop(): void {
    this.stopped = true;
    if (this.refill !== null) clearTimeout(this.refill);
    if (this.spare !== null) endUnused(this.spare.child);
    this.spare = null;
  }

  private scheduleRefill(): void {
    if (this.refill !== null) return;
    // Not at once: on 2 CPUs the fork competed with the starting step (a downstream build's
    // first instruction came 6–12 ms later than with no spare at all); 100 ms later it is idle time.
    this.refill = setTimeout(() => {
      this.refill = null;
      if (!this.stopped && this.spare === null) this.spare = startSpare();
    }, this.refillDelayMs).unref();
  }
}

/** The `ref()`/`unref()` of a pipe's socket, which `Readable` does not declare. */
interface Refable {
  ref(): void;
  unref(): void;
}

function startSpare(): StepProcess | null {
  const cookie = randomUUID();
  try {
    const child = spawn('bash', ['--norc', '-c', GATE], {
      cwd: '/',
      // The C locale makes `read -N` count bytes; the step's own environment comes with its command.
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', [PROCESS_COOKIE_ENV]: cookie },
      detached: true, // own process group, as a spawned step has
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    child.on('error', () => undefined); // seen as not alive when taken
    child.stdin?.on('error', () => undefined);
    // An idle spare keeps no process alive; the step that takes it does.
    child.unref();
    for (const s of [child.stdin, child.stdout, child.stderr]) (s as unknown as Refable).unref();
    return { child, cookie };
  } catch {
    return null;
  }
}

/** The gate's fields, or `null` when a spawn would treat the command differently (NUL bytes). */
function fieldsOf(command: StepCommand, cookie: string): string[] | null {
  const env = { ...command.env, [PROCESS_COOKIE_ENV]: cookie };
  const fields = [command.cwd, command.script, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  const plain = fields.every((f) => !f.includes('\0'));
  const names = Object.keys(env).every((k) => k !== '' && !k.includes('='));
  return plain && names ? fields : null;
}
