import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ContentStore } from '../../src/artifacts/content-store.js';
import { LocalExecutor, type LocalExecutorOptions } from '../../src/executor/local-executor.js';
import { readLog } from '../../src/executor/log-reader.js';
import type { RunInput } from '../../src/executor/port.js';
import { env, job, observer, pidGone, spec, step, tempDirs } from './helpers.js';

const tmp = tempDirs();
afterEach(() => tmp.cleanup());

async function executor(
  extra: Partial<LocalExecutorOptions> = {},
): Promise<{ ex: LocalExecutor; dataDir: string }> {
  const dataDir = await tmp.make();
  const ex = new LocalExecutor({
    dataDir,
    artifacts: new ContentStore(dataDir),
    killGraceMs: 300,
    ...extra,
  });
  return { ex, dataDir };
}

async function logText(dataDir: string, buildId: number): Promise<string[]> {
  const { lines } = await readLog(dataDir, buildId, 0, 10 * 1024 * 1024);
  const code = { stdout: 'o', stderr: 'e', system: 's' } as const;
  return lines.map((l) => `${code[l.stream]} ${l.text}`);
}

describe('LocalExecutor steps', () => {
  it('passes env vars and nightless-inputs.json, runs in the workspace, removes it after success', async () => {
    const { ex, dataDir } = await executor({ buildUrl: (id) => `http://ci/builds/${id}` });
    const inputs: RunInput[] = [
      {
        source: 'glibc',
        version: '2.39-$(touch /tmp/nightless-pwned-amqp)',
        ref: null,
        origin: 'bus',
        eventId: 7,
        def: {
          kind: 'amqp',
          name: 'glibc',
          url: 'amqp://x',
          exchange: 'e',
          routingKey: 'k',
          match: {},
          versionTemplate: '{v}',
          quietPeriodMs: null,
          queueExpiresMs: null,
        },
        files: [],
      },
    ];
    const s = spec(
      job(
        [
          step(
            'show',
            'echo "v=$NIGHTLESS_INPUT_GLIBC_VERSION"; env | grep -E "^(NIGHTLESS|JOB_|STEP_|SPEC_)" | sort; pwd; cat "$NIGHTLESS_INPUTS_FILE"',
            { env: env({ STEP_X: 'step' }) },
          ),
        ],
        {
          env: env({ JOB_X: 'job', STEP_X: 'job-loses' }),
        },
      ),
      { inputs, env: { SPEC_X: 'spec' } },
    );
    process.env.NIGHTLESS_TOKEN = 'server-token';
    const obs = observer();
    const r = await ex.run(s, obs, new AbortController().signal);
    delete process.env.NIGHTLESS_TOKEN;
    expect(r).toMatchObject({ state: 'passed', outputs: [], coverage: null, warnings: [] });
    const log = (await logText(dataDir, s.buildId)).join('\n');
    const ws = join(dataDir, 'workspaces', String(s.buildId));
    expect(log).toContain('o v=2.39-$(touch /tmp/nightless-pwned-amqp)');
    expect(existsSync('/tmp/nightless-pwned-amqp')).toBe(false);
    expect(log).toContain(`o NIGHTLESS_BUILD_ID=${s.buildId}`);
    expect(log).toContain('o NIGHTLESS_JOB=build');
    expect(log).toContain(`o NIGHTLESS_WORKSPACE=${ws}`);
    expect(log).toContain(`o NIGHTLESS_BUILD_URL=http://ci/builds/${s.buildId}`);
    expect(log).toContain(`o NIGHTLESS_INPUTS_FILE=${ws}/nightless-inputs.json`);
    expect(log).toContain('o NIGHTLESS_INPUT_GLIBC_PATH=');
    expect(log).toContain('o JOB_X=job');
    expect(log).toContain('o STEP_X=step');
    expect(log).toContain('o SPEC_X=spec');
    expect(log).not.toContain('NIGHTLESS_TOKEN');
    expect(log).toContain(`o ${ws}`);
    expect(log).toContain('"kind": "amqp"');
    expect(log).toMatch(/s ==> step "show" \(1\/1\)/);
    expect(log).toMatch(/s <== exit 0 in \d/);
    expect(obs.advances.at(-1)).toBe(
      (await readFile(join(dataDir, 'logs', `${s.buildId}.log`))).length,
    );
    expect(existsSync(ws)).toBe(false);
  });

  it('fails with step name and exit code, stops there, keeps the workspace', async () => {
    const { ex, dataDir } = await executor();
    const s = spec(
      job([
        step('ok', 'true'),
        step('test', 'echo out; echo err >&2; exit 3'),
        step('never', 'echo never'),
      ]),
    );
    const r = await ex.run(s, observer(), new AbortController().signal);
    expect(r).toMatchObject({
      state: 'failed',
      step: 'test',
      exitCode: 3,
      reason: 'step "test" exited with code 3',
    });
    const log = await logText(dataDir, s.buildId);
    expect(log).toContain('o out');
    expect(log).toContain('e err');
    expect(log.join('\n')).not.toContain('never');
    expect(existsSync(join(dataDir, 'workspaces', String(s.buildId)))).toBe(true);
    // pipefail: a failing command early in a pipe fails the step
    const p = await ex.run(
      spec(job([step('pipe', 'false | cat')])),
      observer(),
      new AbortController().signal,
    );
    expect(p).toMatchObject({ state: 'failed', exitCode: 1 });
  });

  it('step timeout, job timeout and no-output timeout are errors with their codes', async () => {
    const { ex } = await executor();
    const never = new AbortController().signal;
    const t0 = Date.now();
    const [a, b, c] = await Promise.all([
      ex.run(spec(job([step('test', 'sleep 30', { timeoutMs: 400 })])), observer(), never),
      ex.run(
        spec(job([step('one', 'sleep 0.2'), step('two', 'sleep 30')], { timeoutMs: 600 })),
        observer(),
        never,
      ),
      ex.run(
        spec(job([step('quiet', 'echo hi; sleep 30')], { noOutputTimeoutMs: 400 })),
        observer(),
        never,
      ),
    ]);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(a).toMatchObject({
      state: 'error',
      code: 'step-timeout',
      step: 'test',
      reason: 'step "test" timed out after 400ms',
    });
    expect(b).toMatchObject({
      state: 'error',
      code: 'timeout',
      step: 'two',
      reason: 'job "build" timed out after 600ms (in step "two")',
    });
    expect(c).toMatchObject({
      state: 'error',
      code: 'no-output-timeout',
      step: 'quiet',
      reason: 'step "quiet" printed nothing for 400ms',
    });
  });

  it('a step ignoring SIGTERM is killed after the grace period', async () => {
    const { ex } = await executor({ killGraceMs: 300 });
    const t0 = Date.now();
    const r = await ex.run(
      spec(job([step('stubborn', "trap '' TERM; sleep 30 & wait; sleep 30", { timeoutMs: 300 })])),
      observer(),
      new AbortController().signal,
    );
    expect(r).toMatchObject({ state: 'error', code: 'step-timeout' });
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('cancel kills a tree of children (and a setsid escapee) within 1 s', async () => {
    const { ex, dataDir } = await executor({ killGraceMs: 2000 });
    const ac = new AbortController();
    const s = spec(
      job([
        step(
          'tree',
          'for i in $(seq 1 20); do sleep 300 & echo "pid $!"; done; (bash -c "sleep 300 & echo pid \\$!; wait") & setsid sleep 300 & echo "pid $!"; wait',
        ),
      ]),
    );
    const running = ex.run(s, observer(), ac.signal);
    const pids: number[] = [];
    for (let i = 0; i < 100 && pids.length < 22; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const lines = await logText(dataDir, s.buildId);
      pids.splice(
        0,
        pids.length,
        ...lines.filter((l) => l.startsWith('o pid ')).map((l) => Number(l.slice(6))),
      );
    }
    expect(pids.length).toBe(22);
    expect(pids.every((p) => !pidGone(p))).toBe(true);
    const t0 = Date.now();
    ac.abort();
    const r = await running;
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(r).toMatchObject({ state: 'cancelled' });
    expect(pids.filter((p) => !pidGone(p))).toEqual([]);
  });

  it('kills what a passed step left in the background', async () => {
    const { ex, dataDir } = await executor();
    const s = spec(job([step('bg', 'sleep 300 > /dev/null 2>&1 & echo "pid $!"')]));
    const r = await ex.run(s, observer(), new AbortController().signal);
    expect(r.state).toBe('passed');
    const pid = Number(
      (await logText(dataDir, s.buildId)).find((l) => l.startsWith('o pid '))?.slice(6),
    );
    expect(pid).toBeGreaterThan(0);
    expect(pidGone(pid)).toBe(true);
  });

  it('masks secrets, also split across output chunks', async () => {
    const { ex, dataDir } = await executor();
    const s = spec(
      job([
        step(
          'leak',
          'printf "a hunter2-secret b\\n"; printf "x hunter2"; sleep 0.1; printf -- "-secret y\\n"; echo "$STEP_SECRET" ab',
          { env: env({ STEP_SECRET: 'stepvalue' }, true) },
        ),
      ]),
      { secretValues: ['hunter2-secret', 'ab'] },
    );
    await ex.run(s, observer(), new AbortController().signal);
    const log = await logText(dataDir, s.buildId);
    expect(log).toContain('o a *** b');
    expect(log).toContain('o x *** y');
    expect(log).toContain('o *** ab'); // "ab" is too short to mask
    expect(log.join('\n')).not.toMatch(/hunter2|stepvalue/);
  });

  it('caps the log with one marker line and keeps draining', async () => {
    const { ex, dataDir } = await executor({ logMaxBytes: 64 * 1024 });
    const s = spec(
      job([step('chatty', '(yes "line of output" || true) | head -c 5000000; echo done >&2')]),
    );
    const r = await ex.run(s, observer(), new AbortController().signal);
    expect(r.state).toBe('passed');
    const size = (await readFile(join(dataDir, 'logs', `${s.buildId}.log`))).length;
    expect(size).toBeLessThan(64 * 1024 + 1024);
    const log = await logText(dataDir, s.buildId);
    expect(
      log.filter((l) => l === 's [log truncated at 64 KiB: further output discarded]'),
    ).toHaveLength(1);
    expect(log.join('\n')).not.toContain('e done');
    expect(log.at(-1)).toMatch(/^s <== exit 0/);
  });

  it('resolves cancelled when aborted before start, and internal errors never reject', async () => {
    const { ex } = await executor();
    const ac = new AbortController();
    ac.abort();
    expect(await ex.run(spec(job([step('x', 'true')])), observer(), ac.signal)).toMatchObject({
      state: 'cancelled',
    });
    const broken = spec(job([step('x', 'true')]), {
      inputs: [
        {
          source: '../evil',
          version: '1',
          ref: null,
          origin: null,
          eventId: null,
          def: { kind: 'job-output', name: '../evil', job: 'a', output: 'b', quietPeriodMs: null },
          files: [],
        },
      ],
    });
    expect(await ex.run(broken, observer(), new AbortController().signal)).toMatchObject({
      state: 'error',
      code: 'workspace',
    });
  });
});
