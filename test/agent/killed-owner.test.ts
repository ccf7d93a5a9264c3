import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Nightless } from '../../src/app/start-nightless.js';
import { findOrphans } from '../../src/executor/orphans.js';
import { startServeProcess, type ServeProcess } from '../cli/helpers/serve-process.js';
import {
  adminToken,
  agentToken,
  alive,
  commit,
  eventually,
  freePort,
  git,
  push,
  startAgent,
  startServer,
  type AgentProcess,
} from './helpers.js';

/**
 * Issue 14: a `nightless serve` or `nightless agent` killed with `kill -9` takes its running
 * steps with it — the step's shell and what it started in the background (`sleep 600 &`), plain
 * and sandboxed — within a couple of seconds, not when the same data directory starts again:
 * meanwhile the build's lease expires and it runs again elsewhere, twice at once.
 * Real processes: a server from source on SQLite, an agent against an in-process server.
 */
const hasBwrap = (() => {
  try {
    execFileSync('bwrap', ['--ro-bind', '/', '/', '--unshare-all', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasBwrap) console.warn('SKIPPED: the sandboxed step of the kill -9 tests needs bwrap');

/** How long after the owner's death its steps may still run (kill grace 2 s; loaded CI). */
const GONE_WITHIN_MS = 6000;

let root: string;
let marks: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-killed-owner-'));
  marks = join(root, 'marks');
  await mkdir(marks);
});
afterAll(() => rm(root, { recursive: true, force: true, maxRetries: 5 }));

/**
 * Jobs `plain` (records its shell's and its background child's pid) and, with bwrap,
 * `boxed` (sandboxed: it can write only its workspace, so it is found by its environment).
 */
function jobs(runsOn: string): string {
  const plain = `  plain:
    inputs: [app]${runsOn}
    steps:
      - run: |
          sleep 600 & echo $! > ${marks}/plain.child
          echo $$ > ${marks}/plain.pid
          wait
`;
  const boxed = `  boxed:
    inputs: [app]${runsOn}
    isolation: sandbox
    steps:
      - run: |
          sleep 600 &
          touch started
          wait
`;
  return plain + (hasBwrap ? boxed : '');
}

/** The step processes of every build of a data (work) directory, by their environment. */
const stepProcesses = (dataDir: string): Promise<number[]> =>
  findOrphans(join(dataDir, 'workspaces'), { under: true });

async function pidIn(file: string): Promise<number> {
  const text = await eventually(`${file} to be written`, async () =>
    existsSync(file) ? (await readFile(file, 'utf8')).trim() || undefined : undefined,
  );
  return Number(text);
}

/** Both steps run: the plain one wrote its pids, the boxed one its mark in its workspace. */
async function stepsRunning(dataDir: string): Promise<number[]> {
  const pids = [await pidIn(join(marks, 'plain.pid')), await pidIn(join(marks, 'plain.child'))];
  if (hasBwrap)
    await eventually('the sandboxed step to start', async () => {
      for (const pid of await stepProcesses(dataDir)) {
        const ws = /\0NIGHTLESS_WORKSPACE=([^\0]*)/.exec(
          `\0${await readFile(`/proc/${pid}/environ`, 'latin1').catch(() => '')}`,
        )?.[1];
        if (ws !== undefined && existsSync(join(ws, 'started'))) return true;
      }
      return undefined;
    });
  for (const pid of pids) expect(alive(pid)).toBe(true);
  return pids;
}

/** Kills `owner` with SIGKILL; resolves with how long its step processes outlived it. */
async function killAndWaitForSteps(
  kill9: () => Promise<void>,
  dataDir: string,
  pids: readonly number[],
): Promise<number> {
  expect((await stepProcesses(dataDir)).length).toBeGreaterThanOrEqual(hasBwrap ? 4 : 2);
  await kill9();
  const t0 = Date.now();
  const left = await eventually(
    'the killed owner’s steps to end',
    async () => {
      const running = [...new Set([...(await stepProcesses(dataDir)), ...pids.filter(alive)])];
      return running.length === 0 ? [] : Date.now() - t0 > GONE_WITHIN_MS ? running : undefined;
    },
    GONE_WITHIN_MS + 5000,
  );
  expect(left, 'step processes still running after their owner was killed').toEqual([]);
  return Date.now() - t0;
}

/** The spawn helper of process `owner`: its child `node -e …`. */
async function helperOf(owner: number): Promise<number> {
  for (const name of await readdir('/proc')) {
    const stat = await readFile(`/proc/${name}/stat`, 'latin1').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (ppid !== owner) continue;
    const argv = (await readFile(`/proc/${name}/cmdline`, 'latin1').catch(() => '')).split('\0');
    if (argv[1] === '-e') return Number(name);
  }
  throw new Error(`process ${owner} has no spawn helper`);
}

async function cleanup(dataDir: string): Promise<void> {
  for (const pid of await stepProcesses(dataDir)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Gone already.
    }
  }
}

describe('kill -9 of the process running steps', { timeout: 120_000 }, () => {
  it('nightless serve (SQLite): its steps end within seconds, plain and sandboxed', async () => {
    const dir = join(root, 'serve');
    const work = join(dir, 'app');
    await mkdir(dir);
    git(dir, 'init', '-q', '--initial-branch=main', work);
    await commit(work, 'one');
    const config = join(dir, 'nightless.yaml');
    await writeFile(
      config,
      `version: 1\npipeline: killed-serve\nsources:\n  app:\n    git: ${work}\n    branch: main\n    fallback_poll: off\njobs:\n${jobs('')}`,
    );
    const data = join(dir, 'data');
    let serve: ServeProcess | undefined;
    try {
      serve = await startServeProcess({
        cwd: dir,
        config,
        dataDir: data,
        args: ['--slots', '2', '--log-level', 'warn'],
      });
      const pids = await stepsRunning(data);
      const s = serve;
      const took = await killAndWaitForSteps(
        async () => {
          const exited = new Promise((r) => s.child.once('exit', r));
          s.child.kill('SIGKILL');
          await exited;
        },
        data,
        pids,
      );
      console.log(`serve kill -9: steps gone ${took} ms after the server`);
    } finally {
      await serve?.stop();
      await cleanup(data);
    }
  });

  it('nightless agent: its steps end within seconds, long before the lease expires', async () => {
    await withAgent('agent', async ({ agent, workDir, pids }) => {
      const took = await killAndWaitForSteps(() => agent.kill9(), workDir, pids);
      console.log(`agent kill -9: steps gone ${took} ms after the agent`);
    });
  });

  it('agent and its spawn helper both killed: the agent started again ends the leftovers', async () => {
    await withAgent('agent-and-helper', async ({ agent, workDir, pids, start }) => {
      const helper = await helperOf(agent.child.pid as number);
      process.kill(helper, 'SIGKILL');
      await agent.kill9();
      await new Promise((r) => setTimeout(r, 1000));
      expect(pids.filter(alive)).toEqual(pids); // nothing outside is left to end them
      const again = start();
      await eventually(
        'the restarted agent to end the leftovers',
        async () => ((await stepProcesses(workDir)).length === 0 ? true : undefined),
        30_000,
      );
      expect(pids.filter(alive)).toEqual([]);
      expect(again.output()).toMatch(/killed what a build of a previous run left/);
      await again.stop();
    });
  });
});

/**
 * A server in this process (SQLite, a long lease: nothing here may wait for it), and a real
 * agent process with two slots running the steps of `jobs`; `body` gets them once both run.
 */
async function withAgent(
  name: string,
  body: (a: {
    agent: AgentProcess;
    workDir: string;
    pids: number[];
    start: () => AgentProcess;
  }) => Promise<void>,
): Promise<void> {
  const dir = join(root, name);
  const work = join(dir, 'app');
  await mkdir(dir);
  await rm(join(marks, 'plain.pid'), { force: true });
  await rm(join(marks, 'plain.child'), { force: true });
  git(dir, 'init', '-q', '--initial-branch=main', work);
  await writeFile(
    join(dir, 'nightless.yaml'),
    `version: 1\npipeline: killed-agent\nsources:\n  app:\n    git: ${work}\n    branch: main\n    fallback_poll: off\njobs:\n${jobs('\n    runs_on: [linux]')}`,
  );
  const port = await freePort();
  const workDir = join(dir, 'work-victim');
  let nl: Nightless | undefined;
  const started: AgentProcess[] = [];
  try {
    nl = await startServer(dir, port, 60_000);
    const admin = await adminToken(dir);
    const token = await agentToken(nl.url, admin, 'pool');
    const url = nl.url;
    const start = (): AgentProcess => {
      const a = startAgent({
        server: url,
        token,
        name: 'victim',
        workDir,
        labels: 'linux',
        slots: 2,
      });
      started.push(a);
      return a;
    };
    const agent = start();
    await push(nl.url, admin, work, await commit(work, 'one'));
    await body({ agent, workDir, pids: await stepsRunning(workDir), start });
  } finally {
    await Promise.all(started.map((a) => a.stop()));
    await nl?.stop();
    await cleanup(workDir);
  }
}
