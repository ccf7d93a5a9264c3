/**
 * CPU per inbox append through the real SQLite store: new delivery ids, then redeliveries of a
 * stored one (bench/RESULTS.md, "Seams refactor"). To compare two trees in one run, pass another
 * checkout's root: `npx tsx bench/ingest/inbox-append.mts [N] [ROOT]`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const N = Number(process.argv[2] ?? 3000);
const root = resolve(process.argv[3] ?? join(import.meta.dirname, '..', '..'));
const mod = (await import(join(root, 'src/store/sqlite/open-sqlite-store.ts'))) as {
  openSqliteStore: (o: { path: string }) => Promise<Record<string, unknown>>;
};
type Append = (e: unknown) => Promise<unknown>;
const dir = mkdtempSync(join(tmpdir(), 'nightless-inbox-bench-'));
try {
  const store = await mod.openSqliteStore({ path: join(dir, 'nightless.db') });
  // Trees before the store was split by port have `appendEvent` on the store itself.
  const inbox = (store['inbox'] ?? store) as { appendEvent: Append };
  const event = (i: number) => ({
    kind: 'source',
    source: 'app',
    version: `v${i}`,
    ref: 'refs/heads/main',
    origin: 'webhook',
    deliveryId: `github:d${i}`,
    changedPaths: null,
    producedBy: null,
    receivedAt: 1_700_000_000_000 + i,
  });
  for (let i = 0; i < 200; i++) await inbox.appendEvent(event(1_000_000 + i));
  const cpuPerAppend = async (make: (i: number) => unknown): Promise<number> => {
    const c0 = process.cpuUsage();
    for (let i = 0; i < N; i++) await inbox.appendEvent(make(i));
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / N;
  };
  const fresh = await cpuPerAppend(event);
  const redelivered = await cpuPerAppend(() => event(0));
  console.log(JSON.stringify({ root, N, cpuUsPerAppend: { fresh, redelivered } }));
  await (store['close'] as () => Promise<void>)();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
