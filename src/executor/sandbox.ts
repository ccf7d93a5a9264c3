import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The sandbox program: Debian's `bubblewrap`. */
export const BWRAP = 'bwrap';

/** What one sandboxed step may see and touch. */
export interface SandboxSpec {
  /** The build's workspace: the only writable place besides a private `/tmp`. */
  readonly workspace: string;
  /**
   * Directories covered by an empty tmpfs before the workspace is bound back in: the data
   * directory (token, database, logs, other workspaces, git mirrors).
   */
  readonly hide: readonly string[];
  /** Directories bound back read-only after hiding: the git mirrors' object stores the workspace's checkouts borrow from (`alternates`). */
  readonly readOnly: readonly string[];
  /** `network: true` keeps the host's network; otherwise the step has only its own loopback. */
  readonly network: boolean;
  /** The bwrap program; default {@link BWRAP} from `PATH`. */
  readonly program?: string;
}

/**
 * The bwrap arguments that come before the step's command. Order matters: mounts are applied
 * in turn, so `/tmp` and the hidden directories are covered first and the workspace (which may
 * live below them) is bound back last.
 *
 * - the whole system read-only (`--ro-bind / /`), fresh `/dev` and `/proc`;
 * - a private `/tmp`, the data directory hidden, the workspace writable;
 * - every namespace unshared (`--unshare-all`): a fresh PID namespace, so when the step's shell
 *   exits bwrap's init ends every process left in it (`setsid`, double forks included), and no
 *   network unless asked (`--share-net`);
 * - `--die-with-parent`: a server that dies takes its sandboxes with it;
 * - `--new-session`: a step cannot push keystrokes into a terminal (TIOCSTI).
 *
 * The environment is not passed here (arguments are visible in `ps`): the caller spawns bwrap
 * with only the step's environment, which bwrap hands to the command.
 */
export function sandboxArgs(s: SandboxSpec): string[] {
  const args = ['--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp'];
  for (const dir of s.hide) args.push('--tmpfs', dir);
  for (const dir of s.readOnly) args.push('--ro-bind', dir, dir);
  args.push('--bind', s.workspace, s.workspace);
  args.push('--unshare-all');
  if (s.network) args.push('--share-net');
  args.push('--die-with-parent', '--new-session', '--chdir', s.workspace);
  return args;
}

/**
 * The object directories that checkouts below `gitDirs` borrow from (their
 * `.git/objects/info/alternates`): the sandbox binds them read-only so `git log` keeps working
 * in the step while the rest of the mirror cache stays hidden.
 */
export async function alternatesOf(checkouts: readonly string[]): Promise<string[]> {
  const found = new Set<string>();
  for (const dir of checkouts) {
    const text = await readFile(join(dir, '.git', 'objects', 'info', 'alternates'), 'utf8').catch(
      () => '',
    );
    for (const line of text.split('\n')) if (line.startsWith('/')) found.add(line.trim());
  }
  return [...found];
}

/**
 * What bwrap wrote on `--json-status-fd`: the step's exit code once its command ran. A status
 * without `exit-code` means the sandbox never got as far as running the command.
 */
export function sandboxExitCode(status: string): number | null {
  const m = /"exit-code"\s*:\s*(-?\d+)/.exec(status);
  return m === null ? null : Number(m[1]);
}
