import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../cli/helpers/in-process.js';
import { api, notBuilt, spawnServe, waitFor, type BuildsBody } from './serve-helpers.js';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
const tempDir = async (): Promise<string> => {
  const d = await mkdtemp(join(tmpdir(), 'nightless-ws-flags-'));
  dirs.push(d);
  return d;
};

describe('workspace flags of serve and agent', () => {
  it('a bad duration or size is a usage error that names the flag', async () => {
    const cwd = await tempDir();
    const cases: [string[], string][] = [
      [['serve', '--keep-warm-workspaces', '5x'], '--keep-warm-workspaces: use e.g. 500ms'],
      [['serve', '--keep-failed-workspaces', '-1h'], 'a duration cannot be negative'],
      [['serve', '--workspaces-max-size', 'lots'], '--workspaces-max-size: use a number of bytes'],
      [['agent', '--server', 'http://127.0.0.1:9', '--workspaces-max-size', '0'], 'more than 0'],
    ];
    for (const [args, message] of cases) {
      const r = await runInProcess(args, { cwd });
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(message);
    }
    // Nothing was started: no data directory was made.
    expect(existsSync(join(cwd, '.nightless'))).toBe(false);
  });

  describe.skipIf(notBuilt)('real process', () => {
    it('serve --workspaces-max-size: a passing build leaves no warm tree over the cap, and says so', async () => {
      const cwd = await tempDir();
      const s = spawnServe(['--demo', '--workspaces-max-size', '1B'], cwd);
      try {
        const url = await waitFor(
          () => /at (http:\/\/\S+)/.exec(s.stdout())?.[1],
          20_000,
          () => s.stderr(),
        );
        await waitFor(
          async () =>
            (await api<BuildsBody>(`${url}/api/builds`)).builds.some(
              (b) => b.job === 'integration' && b.state === 'passed',
            ),
          45_000,
          () => s.stderr(),
        );
        const log = () => s.stdout() + s.stderr();
        await waitFor(
          () => log().includes('removed kept workspaces and idle warm trees'),
          10_000,
          log,
        );
        const warm = join(cwd, '.nightless', 'workspaces', 'warm');
        await waitFor(
          async () => (await readdir(warm).catch(() => [])).length === 0,
          10_000,
          () => `left in ${warm}`,
        );
      } finally {
        s.child.kill('SIGTERM');
        await s.exited;
      }
    });
  });
});
