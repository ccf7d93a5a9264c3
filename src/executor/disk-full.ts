import { statfs } from 'node:fs/promises';

/** Below this many free bytes a failing step is taken to have failed for want of disk. */
const FULL_BELOW_BYTES = 64 * 1024;

/**
 * `null` when the file system holding `path` has room, else a description (`0 bytes free of
 * 1.0 MiB`). Asked only after a step failed: a step that dies because the disk filled up is an
 * infrastructure failure, not the user's, and its own message ("No space left on device") is
 * just text in the log. Never throws: a file system that cannot be asked counts as having room.
 */
export async function diskFull(path: string): Promise<string | null> {
  try {
    const s = await statfs(path);
    const free = s.bavail * s.bsize;
    if (free >= FULL_BELOW_BYTES) return null;
    return `${free} bytes free of ${((s.blocks * s.bsize) / 1024 / 1024).toFixed(1)} MiB`;
  } catch {
    return null;
  }
}
