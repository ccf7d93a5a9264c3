import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { GitMirrors } from '../../src/executor/git-mirror.js';
import { spawnGit, type GitRunner } from '../../src/executor/git-runner.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { readLog } from '../../src/executor/log-reader.js';
import { gitInput, job, makeRepo, observer, spec, step, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

/** Process ids whose working directory is `dir`. */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/cwd`) === dir) pids.push(Number(name));
    } catch {
      // Gone, or not ours to read.
    }
  }
  return pids;
}

async function until(what: () => boolean, ms = 5000): Promise<void> {
  for (let waited = 0; waited < ms && !what(); waited += 10) await sleep(10);
}

/** An executor whose mirror fetches wait until `open()`; the mirror already holds `c1`. */
async function world() {
  const repo = await tmp.make();
  const [c1] = makeRepo(repo, [{ 'a.txt': 'one\n' }]);
  const dataDir = await tmp.make();
  let open: () => void = () => undefined;
  const gate = new Promise<void>((r) => (open = r));
  const runGit: GitRunner = async (args, o) => {
    if (args.includes('fetch')) await gate;
    return spawnGit(args, o);
  };
  const mirrors = new GitMirrors(join(dataDir, 'git'), { runGit });
  const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir), mirrors });
  await mirrors.ensureCommit(repo, c1!);
  const marks = await tmp.make();
  return { repo, dataDir, ex, open: () => open(), marks };
}

const stdout = async (dataDir: string, id: number): Promise<string[]> =>
  (await readLog(dataDir, id, 0, 1 << 20)).lines
    .filter((l) => l.stream === 'stdout')
    .map((l) => l.text);

describe('the first step started while the commit is fetched', () => {
  it('waits, without running anything, until the tree is there; then runs as usual', async () => {
    const w = await world();
    const [c2] = makeRepo(w.repo, [{ 'a.txt': 'two\n' }]);
    const script = `touch ${w.marks}/ran; cat a.txt; echo "$NIGHTLESS_INPUT_APP_VERSION"; echo $$`;
    const s = spec(job([step('show', script), step('again', 'echo second')]), {
      inputs: [gitInput('app', w.repo, c2!)],
    });
    const done = w.ex.run(s, observer(), new AbortController().signal);
    const ws = w.ex.workspaces.pathOf(s.buildId);
    await until(() => processesIn(ws).length > 0);
    const [held] = processesIn(ws);
    expect(held).toBeDefined();
    await sleep(100);
    expect(existsSync(join(w.marks, 'ran'))).toBe(false);
    w.open();
    expect((await done).state).toBe('passed');
    // The held process became the step's shell: same process id.
    expect(await stdout(w.dataDir, s.buildId)).toEqual(['two', c2, String(held), 'second']);
  });

  it('a build that ends before its first step (commit not found, cancel) leaves no process', async () => {
    const w = await world();
    const missing = spec(job([step('never', `touch ${w.marks}/ran`)]), {
      inputs: [gitInput('app', w.repo, 'e'.repeat(40))],
    });
    const cancel = new AbortController();
    const [c2] = makeRepo(w.repo, [{ 'a.txt': 'two\n' }]);
    const cancelled = spec(job([step('never', `touch ${w.marks}/ran`)]), {
      inputs: [gitInput('app', w.repo, c2!)],
    });
    const runs = [
      w.ex.run(missing, observer(), new AbortController().signal),
      w.ex.run(cancelled, observer(), cancel.signal),
    ];
    const dirs = [missing, cancelled].map((s) => w.ex.workspaces.pathOf(s.buildId));
    await until(() => dirs.every((d) => processesIn(d).length > 0));
    expect(dirs.map((d) => processesIn(d).length)).toEqual([1, 1]);
    cancel.abort('cancelled by test');
    w.open();
    const [r1, r2] = await Promise.all(runs);
    expect(r1?.state).toBe('error');
    expect(r1?.state === 'error' && r1.code).toBe('checkout');
    expect(r2?.state).toBe('cancelled');
    expect(dirs.map((d) => processesIn(d))).toEqual([[], []]);
    expect(existsSync(join(w.marks, 'ran'))).toBe(false);
  });
});
