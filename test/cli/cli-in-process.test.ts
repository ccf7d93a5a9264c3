import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ARTIFACT, TOKEN, startFakeApi, type FakeApi } from './helpers/fake-api.js';
import { runInProcess } from './helpers/in-process.js';
import { tempDir } from './helpers/spawn-cli.js';

/**
 * Every command against the fake API, run inside the test process (cli-process.test.ts covers
 * the real process). Times in the fixtures are UTC; so is this process.
 */
process.env['TZ'] = 'UTC';

let api: FakeApi;
let env: Record<string, string | undefined>;

beforeAll(async () => {
  api = await startFakeApi();
  env = { NIGHTLESS_SERVER: api.url, NIGHTLESS_TOKEN: undefined, NO_COLOR: undefined };
});
afterAll(async () => {
  await api.close();
});

const run = (
  args: readonly string[],
  extra: Record<string, string | undefined> = {},
  cwd = tempDir(),
) => runInProcess(args, { env: { ...env, ...extra }, cwd });

describe('nightless (in process)', () => {
  it('builds passes filters to the API and shows the next page hint', async () => {
    const r = await run([
      'builds',
      '--job',
      'build',
      '--state',
      'failed',
      '--source',
      'app',
      '--version',
      '3f2a1c0',
      '--limit',
      '5',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^BUILD\s+JOB\s+STATE\s+INPUTS\s+QUEUED\s+DURATION\s+REASON\n/);
    expect(r.stdout).toMatch(
      / {2}#42\s+build\s+passed\s+app@3f2a1c0d9e glibc@2\.39-1\s+\S+ ago\s+1m30s\n/,
    );
    expect(r.stdout).toContain('identical to build #40');
    expect(r.stdout).toContain('more: nightless builds --before 41');
    const req = api.requests.find(
      (q) => q.url.startsWith('/api/builds?') && q.url.includes('limit=5'),
    );
    expect(req?.url).toBe('/api/builds?job=build&state=failed&source=app&version=3f2a1c0&limit=5');
  });

  it('builds --version without --source is a usage error', async () => {
    const r = await run(['builds', '--version', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('nightless: --version needs --source (a version belongs to a source)\n');
  });

  it('builds rejects a bad state and a bad limit as usage errors (exit 2)', async () => {
    const state = await run(['builds', '--state', 'green']);
    expect(state.code).toBe(2);
    expect(state.stderr).toContain(
      "nightless: option '--state <state>' argument 'green' is invalid",
    );
    const limit = await run(['builds', '--limit', 'lots']);
    expect(limit.code).toBe(2);
    expect(limit.stderr).toContain('expected a positive whole number');
  });

  it('show prints one build in detail', async () => {
    const r = await run(['show', '#42']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('build #42\n');
    expect(r.stdout).toMatch(/state:\s+failed/);
    expect(r.stdout).toMatch(/cause:\s+new version app@3f2a1c0d9e \(event 7\)/);
    expect(r.stdout).toMatch(
      /inputs:\s+app@3f2a1c0d9e \(main, webhook\)\n\s+glibc@2\.39-1 \(bus\)/,
    );
    expect(r.stdout).toMatch(/started:\s+2025-03-01 12:00:02 \(\S+ ago\)/);
    expect(r.stdout).toMatch(/failed step:\s+npm test/);
    expect(r.stdout).toMatch(/duration:\s+1m30s/);
    expect(r.stdout).toContain('lines 81.2% (+1.3), branches 70.4% (-0.2)');
    expect(r.stdout).toContain('dist  output digest 9b1e77a0c2  1.2 MiB  app-1.4.0.tgz');
    expect(r.stdout).toContain('! coverage report coverage/lcov.info not found');
  });

  it('show --json prints the API JSON', async () => {
    const r = await run(['show', '42', '--json']);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { build: { id: number } }).build.id).toBe(42);
  });

  it('logs prints every page of the log, with --timestamps', async () => {
    const r = await run(['logs', '42', '--timestamps']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      '12:00:02 ▶ step 1/2: npm ci\n12:00:03 added 120 packages\n12:00:04 npm WARN deprecated\n',
    );
  });

  it('logs --json merges the pages into one API object', async () => {
    const r = await run(['logs', '42', '--json']);
    const body = JSON.parse(r.stdout) as { lines: unknown[]; done: boolean };
    expect(body.lines).toHaveLength(3);
    expect(body.done).toBe(true);
  });

  it('logs -f --json prints one event per line', async () => {
    const r = await run(['logs', '42', '-f', '--json']);
    expect(r.code).toBe(0);
    const events = r.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string });
    expect(events.map((e) => e.event)).toEqual(['line', 'line', 'line', 'end']);
  });

  it('status links the page of each job whose latest build failed, below the table', async () => {
    const r = await run(['status']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /\n\nA build failed:\n {2}build #42 {2}https:\/\/ci\.example\.test\/builds\/42\n/,
    );
    // The job that never built has no link.
    expect(r.stdout).not.toMatch(/integration #/);
  });

  it('trigger queues a build with the token from the environment', async () => {
    const r = await run(['trigger', 'build'], { NIGHTLESS_TOKEN: TOKEN });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('queued build #43 https://ci.example.test/builds/43\n');
    expect(api.requests.at(-1)?.auth).toBe(`Bearer ${TOKEN}`);
  });

  it('trigger reads the token from <data-dir>/token and explains why nothing was queued', async () => {
    const cwd = tempDir();
    mkdirSync(join(cwd, 'state'));
    writeFileSync(join(cwd, 'state', 'token'), `${TOKEN}\n`);
    const r = await run(['trigger', 'same', '--data-dir', 'state'], {}, cwd);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'same already built these inputs as build #42 (passed); use --force to rebuild\n',
    );
  });

  it('trigger --wait when nothing was queued reports the identical build (failed: exit 1)', async () => {
    const r = await run(['trigger', 'same', '--wait', '--token', TOKEN]);
    expect(r.stdout).toBe(
      'same already built these inputs as build #42 (passed); use --force to rebuild\n' +
        'build #42 (build) failed: step "npm test": exit code 1 in 1m30s\n',
    );
    expect(r.code).toBe(1);
  });

  it('trigger of an unknown job is a 404', async () => {
    const r = await run(['trigger', 'nope', '--token', TOKEN]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('nightless: 404 NL_NOT_FOUND: no job nope\n');
  });

  it('trigger --json prints the API JSON', async () => {
    const r = await run(['trigger', 'same', '--json', '--token', TOKEN]);
    expect(r.code).toBe(0);
    expect((JSON.parse(r.stdout) as { build: unknown }).build).toBeNull();
  });

  it('cancel reports the cancelled build', async () => {
    const r = await run(['cancel', '42', '--token', TOKEN]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('cancelled build #42 (build)\n');
  });

  it('sources shows heads, next check (absolute and relative) and missed events', async () => {
    const r = await run(['sources']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^app {2}git {2}https:\/\/git\.example\.com\/team\/app\.git$/m);
    expect(r.stdout).toMatch(/branches:\s+main/);
    expect(r.stdout).toMatch(/heads:\s+main → 3f2a1c0d9e \(webhook, 3m ago\)/);
    expect(r.stdout).toMatch(
      /next check:\s+(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d \(in 4m\d+s, every 10m\)/,
    );
    expect(r.stdout).toMatch(/last check:\s+ok 5m ago/);
    expect(r.stdout).toMatch(/events:\s+118 received, last 3m ago, 2 missed/);
  });

  it('why prints the decision log', async () => {
    const r = await run(['why', 'build', '3f2a1c0']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^TIME\s+RULE\s+INPUT\s+BUILD\s+DETAIL$/);
    expect(lines[1]).toMatch(
      /^2025-03-01 12:01:00\s+same-fingerprint\s+app@3f2a1c0d9e\s+#42\s+build already built/,
    );
    expect(api.requests.some((q) => q.url === '/api/why?job=build&version=3f2a1c0')).toBe(true);
  });

  it('why of an unknown name asks for a job, then a source, then says neither exists', async () => {
    const r = await run(['why', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('nightless: 404 NL_NOT_FOUND: no job or source "nope" in the pipeline\n');
    expect(api.requests.map((q) => q.url)).toEqual(
      expect.arrayContaining(['/api/why?job=nope', '/api/why?source=nope']),
    );
  });

  it('trace draws the tree', async () => {
    const r = await run(['trace', 'app@3f2a1c0']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('app@3f2a1c0d9e');
    expect(lines[1]).toBe('├─ build #50 passed 12:00:02→12:01:32');
    expect(lines[2]).toMatch(
      /^│ {2}└─ integration #51 running 12:00:02→… \(eta ~12:05:00\) via build\.dist@9b1e77a0c2$/,
    );
    expect(lines[3]).toBe('└─ lint #52 passed 12:00:02→12:01:32');
  });

  it('trace --watch prints each new state once until every build is finished', async () => {
    const r = await run(['trace', 'app@3f2a1c0', '--watch']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(5); // the tree, then one line for the change
    expect(lines[2]).toContain('integration #51 running');
    expect(lines[4]).toMatch(/^\d\d:\d\d:\d\d integration #51 passed 12:00:02→12:03:20$/);
  });

  it('trace rejects an argument without @ and reports an unknown version', async () => {
    const bad = await run(['trace', 'app']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected SOURCE@VERSION');
    const missing = await run(['trace', 'app@ffff']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe('nightless: 404 NL_NOT_FOUND: no version ffff of app\n');
  });

  it('artifact uses the server file name and refuses to overwrite without --force', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'app-1.4.0.tgz'), 'mine');
    const refused = await run(['artifact', '42', 'dist'], {}, cwd);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('app-1.4.0.tgz exists; use --force');
    expect(readFileSync(join(cwd, 'app-1.4.0.tgz'), 'utf8')).toBe('mine');
    const forced = await run(['artifact', '42', 'dist', '--force'], {}, cwd);
    expect(forced.stderr).toBe('');
    expect(forced.code).toBe(0);
    expect(readFileSync(join(cwd, 'app-1.4.0.tgz'))).toEqual(ARTIFACT);
  });

  it('artifact -o refuses an existing file before downloading', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'out.tgz'), 'mine');
    const r = await run(['artifact', '42', 'dist', '-o', 'out.tgz'], {}, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('nightless: out.tgz exists; use --force to overwrite it\n');
  });

  it('artifact of a multi-file output lists its files and asks for --path', async () => {
    const cwd = tempDir();
    const r = await run(['artifact', '42', 'reports'], {}, cwd);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('has 1 file; choose one with --path');
    expect(r.stderr).toContain('junit/results.xml');
    expect(existsSync(join(cwd, 'reports'))).toBe(false);
  });

  it('artifact of an unknown output is a 404', async () => {
    const r = await run(['artifact', '42', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('nightless: 404 NL_NOT_FOUND: build 42 has no output nope\n');
  });

  it('a server that never answers times out after --timeout', async () => {
    const silent = await silentServer();
    try {
      const { port } = silent.address() as AddressInfo;
      const r = await run(['status', '--server', `http://127.0.0.1:${port}`, '--timeout', '500ms']);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        `nightless: no answer from the nightless server at http://127.0.0.1:${port} within 500ms (use --timeout to wait longer)\n`,
      );
      expect(r.ms).toBeLessThan(5000);
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('a bad --server or --timeout is a usage error', async () => {
    const server = await run(['status', '--server', 'ftp://x']);
    expect(server.code).toBe(2);
    expect(server.stderr).toContain('expected an http:// or https:// URL');
    const timeout = await run(['status', '--timeout', 'soon']);
    expect(timeout.code).toBe(2);
    expect(timeout.stderr).toContain("option '--timeout <duration>' argument 'soon' is invalid");
  });

  it('--version prints the package version', async () => {
    const r = await run(['--version']);
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it.each([
    'status',
    'builds',
    'show',
    'logs',
    'trigger',
    'cancel',
    'sources',
    'why',
    'trace',
    'artifact',
  ])('%s --help shows an example', async (command) => {
    const r = await run([command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain(`$ nightless ${command}`);
    expect(r.stdout).toContain('--server <url>');
    expect(r.stdout).toContain('--json');
  });

  it('the global --help lists the commands and examples', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    for (const command of [
      'serve',
      'check',
      'status',
      'builds',
      'show',
      'logs',
      'trigger',
      'cancel',
      'sources',
      'why',
      'trace',
      'artifact',
    ]) {
      expect(r.stdout).toMatch(new RegExp(`^  ${command} `, 'm'));
    }
    expect(r.stdout).toContain('Examples:');
  });
});

/** Accepts connections and never answers: a firewall that swallows requests, near enough. */
function silentServer(): Promise<Server> {
  return new Promise((resolve) => {
    const s = createServer(() => undefined);
    s.listen(0, '127.0.0.1', () => resolve(s));
  });
}
