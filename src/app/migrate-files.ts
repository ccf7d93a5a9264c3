import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentStore } from '../artifacts/content-store.js';
import { shareBlob } from '../artifacts/shared-blobs.js';
import { logPath } from '../executor/log-reader.js';
import { LogShipper } from '../executor/log-shipper.js';
import type { Store } from '../store/ports.js';

/**
 * `migrate-store`'s second half: every build log and artifact blob of the data directory copied
 * into the PostgreSQL store, so every replica of the new installation serves them (docs/deploy.md,
 * "Logs and artifacts"). Idempotent: bytes already there are not written again.
 */
export async function copyFilesToDatabase(
  dataDir: string,
  store: Pick<Store, 'logs' | 'blobs'>,
): Promise<{ readonly logs: number; readonly blobs: number }> {
  const failed: { error: Error | null } = { error: null };
  const shipper = new LogShipper({
    store: store.logs,
    logFile: (id) => logPath(dataDir, id),
    onError: (err) => {
      failed.error ??= err instanceof Error ? err : new Error(String(err));
    },
  });
  let logs = 0;
  const names = await readdir(join(dataDir, 'logs')).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^(\d+)\.log$/.exec(name);
    if (!m) continue;
    await shipper.flush([Number(m[1])]);
    if (failed.error !== null) throw failed.error;
    logs += 1;
  }
  await shipper.stop();
  let blobs = 0;
  const local = new ContentStore(dataDir);
  for await (const digest of local.list()) {
    await shareBlob(store.blobs, local.pathOf(digest), digest, Date.now());
    blobs += 1;
  }
  return { logs, blobs };
}
