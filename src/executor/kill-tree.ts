import { readdir, readFile } from 'node:fs/promises';

/**
 * Environment variable set on every step process. Its value is unique per step run, and children
 * inherit it, so processes that left the step's process group (`setsid`, double fork) can still
 * be found in /proc and killed (Jenkins' ProcessTreeKiller uses the same cookie trick).
 */
export const PROCESS_COOKIE_ENV = 'NIGHTLESS_PROCESS_COOKIE';

const POLL_MS = 20;

/** The fields of a `/proc/<pid>/stat` line after `(comm)`, which may itself hold spaces or `)`. */
export function statFields(stat: string): string[] {
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/**
 * Live (non-zombie) processes belonging to a step: members of process group `pgid`, or carrying
 * `cookie` in their environment. Linux only (/proc); elsewhere returns what the group signal can
 * tell: `[pgid]` while the group exists.
 */
async function findStepProcesses(pgid: number, cookie: string): Promise<number[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return groupExists(pgid) ? [pgid] : [];
  }
  const needle = `\0${PROCESS_COOKIE_ENV}=${cookie}\0`;
  const found: number[] = [];
  await Promise.all(
    entries.map(async (name) => {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) return;
      const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => null);
      if (stat === null) return;
      const fields = statFields(stat);
      if (fields[0] === 'Z' || fields[0] === 'X') return; // zombies are dead, just not reaped
      if (Number(fields[2]) === pgid) {
        found.push(pid);
        return;
      }
      const env = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => null);
      if (env !== null && `\0${env}\0`.includes(needle)) found.push(pid);
    }),
  );
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
): Promise<void> {
  let alive = await findStepProcesses(pgid, cookie);
  if (alive.length === 0) return;
  signalAll(pgid, alive, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    await sleep(POLL_MS);
    alive = await findStepProcesses(pgid, cookie);
    if (alive.length === 0) return;
  }
  signalAll(pgid, alive, 'SIGKILL');
  // SIGKILL cannot be caught; a brief wait lets the kernel finish tearing the processes down.
  for (let i = 0; i < 10; i++) {
    await sleep(POLL_MS);
    alive = await findStepProcesses(pgid, cookie);
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
