import { readdir, readFile } from 'node:fs/promises';

/**
 * Processes of a build whose server died: they still carry `NIGHTLESS_WORKSPACE=<workspace>` in
 * their environment (steps inherit it), which names this data directory and build uniquely.
 * Linux only (/proc); elsewhere nothing is found.
 */
export async function findOrphans(
  workspace: string,
  opts: { under?: boolean } = {},
): Promise<number[]> {
  const entries = await readdir('/proc').catch(() => [] as string[]);
  // `under`: any build's workspace inside `workspace` (a directory of workspaces).
  const needle = `\0NIGHTLESS_WORKSPACE=${workspace}${opts.under ? '/' : '\0'}`;
  const found: number[] = [];
  await Promise.all(
    entries.map(async (name) => {
      const pid = Number(name);
      if (!Number.isInteger(pid) || pid === process.pid) return;
      const env = await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => null);
      if (env !== null && `\0${env}\0`.includes(needle)) found.push(pid);
    }),
  );
  return found;
}

/** Kills what a lost build left running (SIGKILL: nobody is waiting for a graceful exit). */
export async function killOrphans(
  workspace: string,
  opts: { under?: boolean } = {},
): Promise<number> {
  const pids = await findOrphans(workspace, opts);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  return pids.length;
}
