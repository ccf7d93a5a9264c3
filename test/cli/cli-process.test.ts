import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACT, TOKEN, startFakeApi, type FakeApi } from './helpers/fake-api.js';
import { runCli, tempDir } from './helpers/spawn-cli.js';

/**
 * The CLI as people run it: a real process (`node --import tsx src/cli/main.ts`) against a fake
 * server on 127.0.0.1 that speaks the API contract. Each spawn pays Node + tsx start-up, so this
 * file keeps to what only a real process shows (exit codes, stdout/stderr, streams, files); the
 * rest is in cli-in-process.test.ts.
 */
const SPAWN_TEST_TIMEOUT_MS = 180_000;

let api: FakeApi;
let env: Record<string, string>;

beforeAll(async () => {
  api = await startFakeApi();
  env = { NIGHTLESS_SERVER: api.url };
});
afterAll(async () => {
  await api.close();
});

describe.concurrent('nightless (process)', { timeout: SPAWN_TEST_TIMEOUT_MS }, () => {
  it('status prints a table of jobs with reasons and short versions', async () => {
    const r = await runCli(['status'], { env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const [header, build, integration] = r.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^JOB\s+STATE\s+BUILD\s+INPUTS\s+WHEN\s+REASON$/);
    expect(build).toMatch(
      /^build\s+failed\s+#42\s+app@3f2a1c0d9e glibc@2\.39-1\s+.*ago\s+step "npm test": exit code 1$/,
    );
    expect(integration).toMatch(/^integration\s+never built$/);
    // Not a TTY: never a colour code.
    expect(r.stdout).not.toContain('\x1b[');
  });

  it('status --json prints the API JSON', async () => {
    const r = await runCli(['status', '--json'], { env });
    expect(r.code).toBe(0);
    const body = JSON.parse(r.stdout) as { jobs: Array<{ name: string }> };
    expect(body.jobs.map((j) => j.name)).toEqual(['build', 'integration']);
  });

  it('show of a missing build prints the API error and exits 1', async () => {
    const r = await runCli(['show', '999'], { env });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('nightless: 404 NL_NOT_FOUND: no build 999\n');
  });

  it('trigger without a token fails with a clear 401', async () => {
    const r = await runCli(['trigger', 'build'], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('nightless: 401 NL_UNAUTHORIZED: missing or invalid API token\n');
  });

  it('logs -f follows the SSE stream until the build ends, exit 0', async () => {
    const r = await runCli(['logs', '42', '-f'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('▶ step 1/2: npm ci\nadded 120 packages\nnpm WARN deprecated\n');
    expect(r.stderr).toBe('build #42 failed\n');
  });

  it('trigger --wait exits 0 when the build passes', async () => {
    const r = await runCli(['trigger', 'build', '--wait', '--token', TOKEN], { env });
    expect(r.stdout).toMatch(
      /^queued build #43 https:\/\/ci\.example\.test\/builds\/43\nbuild #43 \(build\) passed in \d+/,
    );
    expect(r.stderr).toBe('build #43 started\n');
    expect(r.code).toBe(0);
  });

  it('trigger --wait exits 1 when the build fails', async () => {
    const r = await runCli(['trigger', 'flaky', '--wait', '--token', TOKEN], { env });
    expect(r.stdout).toMatch(
      /^queued build #44 https:\/\/ci\.example\.test\/builds\/44\nbuild #44 \(flaky\) failed: step "npm test": exit code 1 in \d+/,
    );
    expect(r.code).toBe(1);
  });

  it('artifact -o writes the file, checked against the digest', async () => {
    const cwd = tempDir();
    const r = await runCli(['artifact', '42', 'dist', '-o', 'out.tgz'], { env, cwd });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^wrote out\.tgz \(2\.5 KiB, file sha256 [0-9a-f]{10}\)\n$/);
    expect(readFileSync(join(cwd, 'out.tgz'))).toEqual(ARTIFACT);
  });

  it('artifact -o - streams to stdout', async () => {
    const r = await runCli(['artifact', '42', 'dist', '-o', '-'], { env });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(ARTIFACT.toString());
    expect(r.stderr).toMatch(/^wrote 2\.5 KiB, file sha256 [0-9a-f]{10} to stdout\n$/);
  });

  it('an unreachable server fails fast with a clear message', async () => {
    const port = await freePort();
    const r = await runCli(['status', '--server', `http://127.0.0.1:${port}`, '--timeout', '10m']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `nightless: cannot reach the nightless server at http://127.0.0.1:${port} (is \`nightless serve\` running?)\n`,
    );
    // Refused at once: far below the 10-minute timeout even on a slow machine.
    expect(r.ms).toBeLessThan(SPAWN_TEST_TIMEOUT_MS);
  });

  it('unknown commands are usage errors (exit 2)', async () => {
    const r = await runCli(['stauts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("nightless: unknown command 'stauts'");
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
