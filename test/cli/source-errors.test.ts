import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourcesResponse } from '../../src/api/types.js';
import { runCli } from './helpers/spawn-cli.js';
import {
  eventually,
  getJson,
  startServeProcess,
  type ServeProcess,
} from './helpers/serve-process.js';

/**
 * Issue 11 point 13, end to end: a source on a repository path that does not exist. The real
 * server checks it at start; the API, `nightless sources` and `nightless status` (real
 * processes) show git's cause, not its closing advice.
 */
let dir: string;
let server: ServeProcess;
let missing: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-source-errors-'));
  missing = join(dir, 'no-such-repo.git');
  await writeFile(
    join(dir, 'nightless.yaml'),
    `sources:
  lib:
    git: ${JSON.stringify(missing)}
    branch: main
jobs:
  build:
    inputs: [lib]
    steps: [make]
`,
  );
  server = await startServeProcess({
    cwd: dir,
    config: join(dir, 'nightless.yaml'),
    dataDir: join(dir, '.nightless'),
  });
}, 90_000);
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

const CAUSE = (path: string) =>
  `git ls-remote ${path} failed (exit code 128): fatal: '${path}' does not appear to be a git repository; fatal: Could not read from remote repository.`;

describe('a source whose check fails shows why', { timeout: 120_000 }, () => {
  it('in the API (lastError), `nightless sources` and `nightless status`', async () => {
    const lib = await eventually('the failed check of lib', async () => {
      const body = await getJson<SourcesResponse>(`${server.url}/api/sources`);
      const s = body.sources.find((x) => x.name === 'lib');
      return s?.lastCheckOk === false ? s : undefined;
    });
    expect(lib.lastError).toBe(CAUSE(missing));

    const env = { NIGHTLESS_SERVER: server.url, COLUMNS: '400' };
    const [sources, status] = await Promise.all([
      runCli(['sources'], { env }),
      runCli(['status'], { env }),
    ]);
    expect(sources.code).toBe(0);
    expect(sources.stdout).toContain(`failed `);
    expect(sources.stdout.replace(/\s+/g, ' ')).toContain(CAUSE(missing));
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(/^build\s+never built/m);
    expect(status.stdout).toMatch(/^A source check failed:$/m);
    expect(status.stdout).toMatch(new RegExp(`^  lib  failed (just now|.* ago): `, 'm'));
    expect(status.stdout.replace(/\s+/g, ' ')).toContain(CAUSE(missing));
    expect(status.stdout).not.toMatch(/and the repository exists/);
  });
});
