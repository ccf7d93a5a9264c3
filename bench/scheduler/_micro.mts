// scratch micro-benchmark (deleted after use)
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite-store.js';
const dir = mkdtempSync(join(tmpdir(), 'micro-'));
const store = await openSqliteStore({ path: join(dir, 'db') });
await store.close();
const db = new BetterSqlite3(join(dir, 'db'));
db.pragma('journal_mode = WAL'); db.pragma('synchronous = NORMAL'); db.pragma('foreign_keys = ON');
db.exec(`insert into sources (name, kind) values ('s0','git')`);
for (const p of (process.env.PRAGMAS ?? '').split(';').filter(Boolean)) db.pragma(p);
const insEv = db.prepare(`insert into "events" ("received_at", "kind", "source", "version", "ref", "origin", "delivery_id", "detail") values (?, ?, ?, ?, ?, ?, ?, ?) returning "id"`);
const sel = db.prepare(`select * from "events" where "processed_at" is null order by "id" limit ?`);
const insDec = db.prepare(`insert into "decisions" ("event_id", "job", "rule", "source", "version", "build_id", "detail", "at") values (?, ?, ?, ?, ?, ?, ?, ?)`);
const upd = db.prepare(`update "events" set "processed_at" = ?, "outcome" = ? where "id" = ?`);
const src = db.prepare(`update "sources" set "events_received" = "events_received" + ?, "last_event_at" = ? where "name" = ?`);
const N = 100000;
const t = { ins: 0, sel: 0, dec: 0, upd: 0, commit: 0 };
const v = 'a'.repeat(40);
for (let b = 0; b < N / 1000; b++) {
  let s = performance.now();
  db.exec('begin');
  for (let i = 0; i < 1000; i++) insEv.get(Date.now(), 'source', 's0', v, 'main', 'webhook', null, '{"changedPaths":null,"producedBy":null}');
  db.exec('commit');
  t.ins += performance.now() - s;
  for (let k = 0; k < 2; k++) {
    s = performance.now();
    const rows = sel.all(500) as Array<{ id: number }>;
    t.sel += performance.now() - s;
    db.exec('begin');
    for (const r of rows) {
      s = performance.now();
      insDec.run(r.id, null, 'duplicate', 's0', v, null, `s0@${v.slice(0, 10)} is already the head (webhook event repeats a known version)`, Date.now());
      t.dec += performance.now() - s;
      s = performance.now();
      upd.run(Date.now(), 'duplicate', r.id);
      t.upd += performance.now() - s;
    }
    src.run(rows.length, Date.now(), 's0');
    s = performance.now();
    db.exec('commit');
    t.commit += performance.now() - s;
  }
}
for (const [k, x] of Object.entries(t)) console.log(k, (x / N * 1000).toFixed(2), 'µs/event');
console.log('total', (Object.values(t).reduce((a, b) => a + b) / N * 1000).toFixed(2), 'µs/event');
const u = process.cpuUsage();
console.log('cpu', (((u.user + u.system) / 1000) / N * 1000).toFixed(2), 'µs/event (whole process)');
