import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { LocalExecutor } from '../../src/executor/local-executor.js';
import { readLog } from '../../src/executor/log-reader.js';
import { git, gitInput, job, observer, spec, step, tempDirs } from './helpers.js';

/** `checkout: merge`: a change request's head merged with its target, in the workspace. */
const tmp = tempDirs();
afterEach(() => tmp.cleanup());
const never = new AbortController().signal;

async function setup() {
  const dataDir = await tmp.make();
  const repo = await tmp.make('nightless-merge-repo-');
  git(repo, 'init', '--quiet', '--initial-branch=main');
  const commit = async (file: string, text: string) => {
    await import('node:fs/promises').then((fs) => fs.writeFile(join(repo, file), text));
    git(repo, 'add', '-A');
    git(repo, 'commit', '--quiet', '-m', `${file}`);
    return git(repo, 'rev-parse', 'HEAD');
  };
  await commit('base.txt', 'base\n');
  git(repo, 'checkout', '--quiet', '-b', 'feature');
  const head = await commit('feature.txt', 'from the request\n');
  git(repo, 'update-ref', 'refs/pull/7/head', head);
  git(repo, 'checkout', '--quiet', 'main');
  await commit('main.txt', 'newer main\n');
  const ex = new LocalExecutor({ dataDir, artifacts: new ContentStore(dataDir), killGraceMs: 300 });
  return { dataDir, repo, head, ex, commit };
}

describe('checkout: merge', () => {
  it('builds the merge result of the head and the target tip, and says so in the log', async () => {
    const { dataDir, repo, head, ex } = await setup();
    const s = spec(job([step('ls', 'cat feature.txt main.txt; git log --format=%s -1')]), {
      inputs: [{ ...gitInput('app', repo, head, 'pr/7'), mergeTarget: 'main' }],
    });
    const r = await ex.run(s, observer(), never);
    expect(r.state).toBe('passed');
    const { lines } = await readLog(dataDir, s.buildId, 0, 1 << 20);
    const text = lines.map((l) => l.text).join('\n');
    expect(text).toContain('from the request');
    expect(text).toContain('newer main');
    expect(text).toMatch(/merged main \([0-9a-f]{12}\) into pr\/7/);
  });

  it('a request that does not merge is a checkout error naming the target', async () => {
    const { repo, head, ex, commit } = await setup();
    await commit('feature.txt', 'main wrote this file differently\n');
    const s = spec(job([step('never', 'echo ran > ran.txt')]), {
      inputs: [{ ...gitInput('app', repo, head, 'pr/7'), mergeTarget: 'main' }],
    });
    const r = await ex.run(s, observer(), never);
    expect(r).toMatchObject({ state: 'error', code: 'checkout' });
    expect(r.state === 'error' && r.reason).toMatch(/does not merge cleanly into main/);
    await expect(readFile(join(repo, 'ran.txt'))).rejects.toThrow();
  });
});
