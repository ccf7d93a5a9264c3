import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { logPath } from '../../src/executor/log-reader.js';
import { LogShipper, type LogChunkStore } from '../../src/executor/log-shipper.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { isStoreUnavailable, StoreUnavailableError } from '../../src/store/ports/unavailable.js';
import { job, observer, spec, step, tempDirs } from './helpers.js';

/**
 * On a PostgreSQL installation every build starts by asking the database how much of its log
 * another replica already stored (`LogShipper.restore`), before its first step. A build claimed
 * just before a database restart asks while the database is away: that once ended a build of
 * 240 `error: internal` in test/replicas/pg-restart.test.ts. It waits for the database instead.
 */
const tmp = tempDirs();
afterEach(() => tmp.cleanup());

/** Log chunks in memory; `logSize` fails as an unavailable database would, `down` times. */
function chunks(down: number, stored = Buffer.alloc(0)) {
  let asked = 0;
  const store: LogChunkStore = {
    logSize: () => {
      asked += 1;
      return asked <= down
        ? Promise.reject(new StoreUnavailableError('PostgreSQL is unavailable: ECONNREFUSED'))
        : Promise.resolve(stored.length);
    },
    appendLog: () => Promise.resolve(),
    readLog: (_id, from, max) => Promise.resolve(stored.subarray(from, from + max)),
  };
  return { store, asked: () => asked };
}

async function runWith(store: LogChunkStore, signal = new AbortController().signal) {
  const dir = await tmp.make();
  const errors: unknown[] = [];
  const shipper = new LogShipper({
    store,
    logFile: (id) => logPath(dir, id),
    onError: (err) => void errors.push(err),
    isUnavailable: isStoreUnavailable,
  });
  const ex = new LocalExecutor({
    dataDir: dir,
    artifacts: new ContentStore(dir),
    logReplica: shipper,
  });
  const run = spec(job([step('hello', 'echo hello')]));
  const result = await ex.run(run, observer(), signal);
  await shipper.stop();
  return { result, errors, log: await readFile(logPath(dir, run.buildId), 'utf8').catch(() => '') };
}

describe('a build that starts while the database is away', () => {
  it('waits for the database before its first step, then runs and passes', async () => {
    const db = chunks(2);
    const { result, errors } = await runWith(db.store);
    expect(result.state).toBe('passed');
    // Asked until it answered (and by the copy of the new lines after); one warning.
    expect(db.asked()).toBeGreaterThanOrEqual(3);
    expect(errors).toHaveLength(1);
  });

  it("continues the earlier attempt's log once it can read it", async () => {
    const db = chunks(1, Buffer.from('earlier attempt\n'));
    const { result, log } = await runWith(db.store);
    expect(result.state).toBe('passed');
    expect(log.startsWith('earlier attempt\n')).toBe(true);
    expect(log).toContain('hello');
  });

  it('is cancelled, not left waiting, when the build is cancelled meanwhile', async () => {
    const db = chunks(1_000);
    const abort = new AbortController();
    setTimeout(() => abort.abort('cancelled by api'), 300);
    const { result } = await runWith(db.store, abort.signal);
    expect(result).toMatchObject({ state: 'cancelled' });
  });
});
