import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { LocalExecutor, type LocalExecutorOptions } from '../../src/executor/local-executor.js';
import { readLog } from '../../src/executor/log-reader.js';
import type { JobDef, StepDef } from '../../src/core/pipeline.js';
import { env, gitInput, job, makeRepo, observer, spec, step, tempDirs } from './helpers.js';

/**
 * Every test runs real steps under real bubblewrap. Without bwrap these tests fail under CI
 * (.ci/run installs it) and are skipped loudly elsewhere.
 */
const hasBwrap = (() => {
  try {
    execFileSync('bwrap', ['--ro-bind', '/', '/', '--unshare-all', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
if (!hasBwrap) {
  if (process.env.CI === 'true')
    throw new Error('bwrap is required under CI (.ci/run installs bubblewrap)');
  console.warn('SKIPPED: sandbox tests need a working bwrap (apt-get install bubblewrap)');
}

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

async function executor(extra: Partial<LocalExecutorOptions> = {}) {
  const dataDir = await tmp.make();
  const ex = new LocalExecutor({
    dataDir,
    artifacts: new ContentStore(dataDir),
    killGraceMs: 300,
    ...extra,
  });
  return { ex, dataDir };
}

async function log(dataDir: string, buildId: number): Promise<string> {
  const { lines } = await readLog(dataDir, buildId, 0, 10 * 1024 * 1024);
  return lines.map((l) => `${l.stream === 'system' ? 's' : 'o'} ${l.text}`).join('\n');
}

const never = new AbortController().signal;
const sandboxed = (steps: StepDef[], extra: Partial<JobDef> = {}) =>
  job(steps, { isolation: 'sandbox', ...extra });

describe.skipIf(!hasBwrap)('isolation: sandbox (real bubblewrap)', () => {
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((s) => s.end('hello from the host\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('cannot read the data directory token nor another build workspace', async () => {
    const { ex, dataDir } = await executor();
    await writeFile(join(dataDir, 'token'), 'nl_server_token_value\n');
    const other = join(dataDir, 'workspaces', '999999');
    await mkdir(other, { recursive: true });
    await writeFile(join(other, 'secret.txt'), 'other-build-data');
    const s = spec(
      sandboxed([
        step(
          'peek',
          `cat "${dataDir}/token" || echo "no token"; cat "${other}/secret.txt" || echo "no other"; ls "${dataDir}/workspaces"`,
        ),
      ]),
    );
    const r = await ex.run(s, observer(), never);
    expect(r.state).toBe('passed');
    const text = await log(dataDir, s.buildId);
    expect(text).toContain('o no token');
    expect(text).toContain('o no other');
    expect(text).not.toContain('nl_server_token_value');
    expect(text).not.toContain('other-build-data');
    // The listing shows only this build's own workspace.
    expect(text).toContain(`o ${s.buildId}`);
    expect(text).not.toMatch(/^o 999999$/m);
    expect(text).toContain('s sandbox: bubblewrap, network off');
  });

  it('writes only inside its workspace and a private /tmp', async () => {
    const { ex, dataDir } = await executor();
    const marker = `nightless-sandbox-escape-${process.pid}-${Date.now()}`;
    const s = spec(
      sandboxed([
        step(
          'write',
          [
            `touch "/tmp/${marker}" && echo "tmp ok"`,
            `touch "/var/tmp/${marker}" || echo "var/tmp refused"`,
            `touch "${dataDir}/${marker}"; echo "datadir write hidden"`,
            `echo built > out.txt`,
          ].join('\n'),
        ),
      ]),
    );
    const r = await ex.run(s, observer(), never);
    expect(r.state).toBe('passed');
    const text = await log(dataDir, s.buildId);
    expect(text).toContain('o tmp ok');
    expect(text).toContain('o var/tmp refused');
    expect(existsSync(`/tmp/${marker}`)).toBe(false);
    expect(existsSync(`/var/tmp/${marker}`)).toBe(false);
    expect(existsSync(join(dataDir, marker))).toBe(false);
    // Workspace writes are real: a failing step keeps the workspace to look at.
    const f = spec(sandboxed([step('keep', 'echo kept > out.txt; exit 1')]));
    await ex.run(f, observer(), never);
    expect(await readFile(join(dataDir, 'workspaces', String(f.buildId), 'out.txt'), 'utf8')).toBe(
      'kept\n',
    );
  });

  it('cannot reach 127.0.0.1 with network off; can with network: true', async () => {
    const { ex, dataDir } = await executor();
    const probe = step(
      'probe',
      `if exec 3<>/dev/tcp/127.0.0.1/${port}; then head -1 <&3; else echo "unreachable"; fi`,
    );
    const off = spec(sandboxed([probe]));
    const on = spec(sandboxed([probe], { network: true }));
    expect((await ex.run(off, observer(), never)).state).toBe('passed');
    expect((await ex.run(on, observer(), never)).state).toBe('passed');
    const offLog = await log(dataDir, off.buildId);
    expect(offLog).toContain('o unreachable');
    expect(offLog).not.toContain('hello from the host');
    expect(await log(dataDir, on.buildId)).toContain('o hello from the host');
  });

  it("sees none of the server's environment, only its own", async () => {
    const { ex, dataDir } = await executor();
    process.env.NIGHTLESS_TOKEN = 'server-token-value';
    process.env.SERVER_ONLY_SECRET = 'server-only-value';
    try {
      const s = spec(
        sandboxed([step('env', 'env | sort', { env: env({ STEP_X: 'mine' }) })], {
          env: env({ JOB_X: 'job' }),
        }),
        { env: { SPEC_X: 'spec' } },
      );
      expect((await ex.run(s, observer(), never)).state).toBe('passed');
      const text = await log(dataDir, s.buildId);
      expect(text).toContain('o STEP_X=mine');
      expect(text).toContain('o JOB_X=job');
      expect(text).toContain('o SPEC_X=spec');
      expect(text).toContain('o HOME=/tmp');
      expect(text).not.toContain('server-token-value');
      expect(text).not.toContain('SERVER_ONLY_SECRET');
    } finally {
      delete process.env.NIGHTLESS_TOKEN;
      delete process.env.SERVER_ONLY_SECRET;
    }
  });

  it('a `setsid env -i` child dies with the build', async () => {
    const { ex } = await executor();
    // A unique duration names the process on the host: its PID namespace hides its pid.
    const secs = `${300 + (process.pid % 100)}.${Date.now() % 100000}`;
    const s = spec(sandboxed([step('daemon', `setsid env -i sleep ${secs} & echo started`)]));
    expect((await ex.run(s, observer(), never)).state).toBe('passed');
    const alive: string[] = [];
    for (const pid of await readdir('/proc')) {
      if (!/^\d+$/.test(pid)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'latin1').catch(() => '');
      const stat = await readFile(`/proc/${pid}/stat`, 'latin1').catch(() => '');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (cmd.includes(secs) && state !== 'Z') alive.push(pid);
    }
    expect(alive).toEqual([]);
  });

  it('checks out git inputs and can read their history', async () => {
    const { ex, dataDir } = await executor();
    const repo = await tmp.make('nightless-sandbox-repo-');
    const [sha] = makeRepo(repo, [{ 'README.md': 'hello\n' }]);
    const s = spec(sandboxed([step('git', 'cat README.md; git log --format=%H -1')]), {
      inputs: [gitInput('app', repo, sha ?? '')],
    });
    const r = await ex.run(s, observer(), never);
    expect(r.state).toBe('passed');
    const text = await log(dataDir, s.buildId);
    expect(text).toContain('o hello');
    expect(text).toContain(`o ${sha}`);
  });

  it('a sandbox that cannot start is an error, never an unsandboxed run', async () => {
    const { ex, dataDir } = await executor({ sandboxProgram: '/nonexistent/bwrap' });
    const marker = join(dataDir, 'ran-unsandboxed');
    const s = spec(sandboxed([step('x', `touch "${marker}"`)]));
    const r = await ex.run(s, observer(), never);
    expect(r).toMatchObject({ state: 'error', code: 'sandbox', step: 'x' });
    expect(r.state === 'error' && r.reason).toMatch(/cannot start the sandbox.*ENOENT/);
    expect(existsSync(marker)).toBe(false);

    // bwrap present but refused by the kernel (an unprivileged container): exit 1, no command.
    const fake = join(dataDir, 'fake-bwrap');
    await writeFile(
      fake,
      '#!/bin/sh\necho "bwrap: setting up uid map: Permission denied" >&2\nexit 1\n',
    );
    await chmod(fake, 0o755);
    const { ex: ex2, dataDir: d2 } = await executor({ sandboxProgram: fake });
    const s2 = spec(sandboxed([step('x', `touch "${marker}"`)]));
    const r2 = await ex2.run(s2, observer(), never);
    expect(r2).toMatchObject({ state: 'error', code: 'sandbox' });
    expect(r2.state === 'error' && r2.reason).toContain('could not start the step');
    expect(existsSync(marker)).toBe(false);
    expect(await log(d2, s2.buildId)).toContain('Permission denied');
  });

  it('an untrusted build is sandboxed by default and gets no secret values', async () => {
    const { ex, dataDir } = await executor();
    const secret = { value: 'fork-must-not-see-this', template: '${env:DEPLOY_KEY}', secret: true };
    const s = spec(
      job(
        [
          step('env', 'env | sort; echo "key=${DEPLOY_KEY:-unset}"', {
            env: { DEPLOY_KEY: secret },
          }),
        ],
        {
          env: {
            JOB_SECRET: { ...secret, template: '${env:JOB_SECRET}' },
            PLAIN: { value: 'p', template: 'p', secret: false },
          },
        },
      ),
      { untrusted: 'app pr/3 comes from a fork' },
    );
    expect((await ex.run(s, observer(), never)).state).toBe('passed');
    const text = await log(dataDir, s.buildId);
    expect(text).toContain('s sandbox: bubblewrap, network off');
    expect(text).toContain('o key=unset');
    expect(text).toContain('o PLAIN=p');
    expect(text).not.toContain('fork-must-not-see-this');
    expect(text).not.toContain('JOB_SECRET');
  });

  it('an untrusted build with isolation: none still sees nothing of the server environment', async () => {
    const { ex, dataDir } = await executor();
    process.env.SERVER_ONLY_SECRET = 'server-only-value';
    try {
      const s = spec(job([step('env', 'env | sort')], { isolation: 'none' }), {
        untrusted: 'app pr/3 comes from a fork',
      });
      expect((await ex.run(s, observer(), never)).state).toBe('passed');
      const text = await log(dataDir, s.buildId);
      expect(text).not.toContain('sandbox: bubblewrap');
      expect(text).not.toContain('server-only-value');
      expect(text).toContain('o HOME=/tmp');
    } finally {
      delete process.env.SERVER_ONLY_SECRET;
    }
  });
});
