import { readdir } from 'node:fs/promises';
import { readProcFile, statFields } from '../spawn/proc-files.js';

/**
 * Environment variable set on every step process. Its value is unique per step run, and children
 * inherit it, so processes that left the step's process group (`setsid`, double fork) can still
 * be found in /proc and killed (Jenkins' ProcessTreeKiller uses the same cookie trick).
 */
export const PROCESS_COOKIE_ENV = 'NIGHTLESS_PROCESS_COOKIE';

const POLL_MS = 20;

/** Index of `starttime` (clock ticks after boot) in `statFields`: field 22 of the stat line. */
const START_TIME = 19;

/**
 * When process `pid` started, in clock ticks after boot (`/proc/<pid>/stat`); `null` when that
 * cannot be read (not Linux, the process reaped). Read while it is known to exist.
 */
export function startTicks(pid: number): number | null {
  const stat = readProcFile(`/proc/${pid}/stat`);
  const ticks = stat === null ? NaN : Number(statFields(stat)[START_TIME]);
  return Number.isSafeInteger(ticks) ? ticks : null;
}

/** Processes read from /proc between two turns of the event loop (~10 µs each). */
const SCAN_CHUNK = 256;

/**
 * Live (non-zombie) processes belonging to a step: members of process group `pgid`, or carrying
 * `cookie` in their environment. Linux only (/proc); elsewhere returns what the group signal can
 * tell: `[pgid]` while the group exists. `since`: when the step's first process started (clock
 * ticks, `startTicks`). The cookie was made for it and reaches others only by inheritance, so
 * only processes started since then can carry it: the environment of older ones — most of the
 * machine's — is not read. The files are read synchronously, a chunk at a time: as promises,
 * each was four trips to libuv's threads, and a scan of ~85 processes cost 11–12 ms of CPU
 * against ~1.4 ms now (bench/RESULTS.md, "Executor").
 */
async function findStepProcesses(
  pgid: number,
  cookie: string,
  since: number | null,
): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return groupExists(pgid) ? [pgid] : [];
  }
  const needle = `\0${PROCESS_COOKIE_ENV}=${cookie}\0`;
  const found: number[] = [];
  for (let at = 0; at < entries.length; at += SCAN_CHUNK) {
    if (at > 0) await new Promise((resolve) => setImmediate(resolve));
    for (const name of entries.slice(at, at + SCAN_CHUNK)) {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) continue;
      const stat = readProcFile(`/proc/${pid}/stat`);
      if (stat === null) continue;
      const fields = statFields(stat);
      if (fields[0] === 'Z' || fields[0] === 'X') continue; // zombies are dead, just not reaped
      if (Number(fields[2]) === pgid) found.push(pid);
      else if (since === null || Number(fields[START_TIME]) >= since) {
        const env = readProcFile(`/proc/${pid}/environ`);
        if (env !== null && `\0${env}\0`.includes(needle)) found.push(pid);
      }
    }
  }
  return found;
}

/**
 * Kills a step's processes: SIGTERM to the group and to every cookie-marked process, then SIGKILL
 * to whatever is still alive after `graceMs`. Resolves once nothing is left alive (or right after
 * the SIGKILL). Safe to call when everything is already gone.
 */
export async function killStepProcesses(
  pgid: number,
  cookie: string,
  graceMs: number,
  since: number | null = null,
): Promise<void> {
  const find = (): Promise<number[]> => findStepProcesses(pgid, cookie, since);
  let alive = await find();
  if (alive.length === 0) return;
  signalAll(pgid, alive, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    alive = await find();
    if (alive.length === 0) return;
  }
  signalAll(pgid, alive, 'SIGKILL');
  // SIGKILL cannot be caught; a brief wait lets the kernel finish tearing the processes down.
  for (let i = 0; i < 10; i++) {
    await sleep(POLL_MS);
    alive = await find();
    if (alive.length === 0) return;
    signalAll(pgid, alive, 'SIGKILL'); // children forked between the scan and the signal
  }
}

function signalAll(pgid: number, pids: readonly number[], signal: NodeJS.Signals): void {
  trySignal(-pgid, signal);
  for (const pid of pids) trySignal(pid, signal);
}

function trySignal(pid: number, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false; // ESRCH: already gone; EPERM: not ours
  }
}

function groupExists(pgid: number): boolean {
  return trySignal(-pgid, 0);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
