/**
 * What one accepted event writes to SQLite's WAL, by B-tree: the real `startNightless` (as in
 * `run.mts`), `--events` signed generic webhooks sent one at a time (each decided alone, as at a
 * steady 500/s), then the WAL's frames read back (header, then 24-byte frame headers naming the
 * page; a frame with a commit size ends a transaction) and each page named by `dbstat`.
 *
 *   npx tsx bench/ingest/wal-pages.mts [--events=200]
 *
 * Prints pages per event in total and per table or index. Not a timed bench: it says where the
 * WAL volume (and so the checkpoints' work) comes from.
 */
import { createHmac } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pino from 'pino';
import { startNightless } from '../../src/app/start-nightless.js';

const events = Number(process.argv.find((a) => a.startsWith('--events='))?.split('=')[1] ?? 200);
const SECRET = 'wal-pages-secret';
const dir = await mkdtemp(join(tmpdir(), 'nightless-wal-pages-'));
try {
  const config = join(dir, 'nightless.yaml');
  await writeFile(
    config,
    `version: 1
pipeline: wal-pages
sources:
  tool:
    http: http://127.0.0.1:9/tool.tar.gz
    allow_private: true
    webhook_secret: ${SECRET}
    fallback_poll: off
jobs:
  package:
    inputs: [tool]
    steps: ['true']
`,
  );
  const dataDir = join(dir, 'data');
  const nl = await startNightless({
    configPath: config,
    dataDir,
    host: '127.0.0.1',
    port: 0,
    slots: 0,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
  const walPath = join(dataDir, 'nightless.db-wal');
  // Frames before this offset are start-up's (migrations, config): only later ones are counted.
  const startAt = readFileSync(walPath).length;
  for (let i = 0; i < events; i++) {
    const body = JSON.stringify({ source: 'tool', version: `v${i}` });
    const res = await fetch(`${nl.url}/hooks/generic`, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'x-nightless-delivery': `d${i}`,
        'x-nightless-signature-256': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}`,
      },
      signal: AbortSignal.timeout(5000),
    });
    if (res.status !== 202) throw new Error(`POST ${i}: ${res.status} ${await res.text()}`);
    await nl.engine.decided();
  }
  copyFileSync(walPath, join(dir, 'copy.db-wal'));
  await nl.stop();

  const db = new BetterSqlite3(join(dataDir, 'nightless.db'), { readonly: true });
  const owner = new Map<number, string>();
  for (const r of db.prepare('SELECT name, pageno FROM dbstat').all() as {
    name: string;
    pageno: number;
  }[])
    owner.set(r.pageno, r.name);
  db.close();

  const wal = readFileSync(join(dir, 'copy.db-wal'));
  const pageSize = wal.readUInt32BE(8);
  const salt = [wal.readUInt32BE(16), wal.readUInt32BE(20)];
  const frame = 24 + pageSize;
  const perTree = new Map<string, number>();
  let txns = 0;
  let pages = 0;
  let inTxn = new Set<number>();
  // The WAL never restarts in so few events (the backstop is at 100,000 pages), so every frame
  // since start-up is still there, in order.
  const first = Math.max(32, 32 + Math.ceil((startAt - 32) / frame) * frame);
  for (let at = first; at + frame <= wal.length; at += frame) {
    if (wal.readUInt32BE(at + 8) !== salt[0] || wal.readUInt32BE(at + 12) !== salt[1]) break;
    inTxn.add(wal.readUInt32BE(at));
    if (wal.readUInt32BE(at + 4) === 0) continue;
    txns++;
    for (const p of inTxn) {
      const name = owner.get(p) ?? (p === 1 ? 'page 1 (header)' : 'free or gone');
      perTree.set(name, (perTree.get(name) ?? 0) + 1);
      pages++;
    }
    inTxn = new Set();
  }
  console.log(
    `${events} events: ${txns} transactions, ${(pages / events).toFixed(1)} pages per event (${((pages * pageSize) / events / 1024).toFixed(0)} KiB of WAL), ${(txns / events).toFixed(2)} transactions per event`,
  );
  for (const [name, n] of [...perTree].sort((a, b) => b[1] - a[1]))
    console.log(`  ${(n / events).toFixed(2).padStart(6)}  ${name}`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
