import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha, startTestEnv, TOKEN, type TestEnv } from '../server/helpers.js';
import { runInProcess } from './helpers/in-process.js';
import { tempDir } from './helpers/spawn-cli.js';

/**
 * The CLI against the real API server (not the canned one): the links it prints, with `--json`
 * and without, are the ones the server made from its `--public-url`.
 */
const PUBLIC = 'https://ci.example.com';

let env: TestEnv;
let cliEnv: Record<string, string | undefined>;

beforeAll(async () => {
  env = await startTestEnv({ publicUrl: PUBLIC });
  const address = await env.app.listen({ host: '127.0.0.1', port: 0 });
  cliEnv = { NIGHTLESS_SERVER: address, NIGHTLESS_TOKEN: TOKEN, NO_COLOR: undefined };
  await env.setOutput('a', 'one\n');
  await env.push(sha('first'));
});
afterAll(async () => {
  await env.close();
});

const run = (args: readonly string[]) => runInProcess(args, { env: cliEnv, cwd: tempDir() });

interface Linked {
  id: number;
  url: string;
  apiUrl: string;
}

describe('build links in the CLI', () => {
  it('--json outputs carry each build’s page and API links', async () => {
    const show = await run(['show', '1', '--json']);
    expect(show.code).toBe(0);
    expect((JSON.parse(show.stdout) as { build: Linked }).build).toMatchObject({
      id: 1,
      url: `${PUBLIC}/builds/1`,
      apiUrl: `${PUBLIC}/api/builds/1`,
    });

    const status = await run(['status', '--json']);
    const jobs = (JSON.parse(status.stdout) as { jobs: Array<{ latest: Linked }> }).jobs;
    expect(jobs.map((j) => j.latest.url)).toEqual([`${PUBLIC}/builds/1`, `${PUBLIC}/builds/2`]);

    const builds = await run(['builds', '--json']);
    const listed = (JSON.parse(builds.stdout) as { builds: Linked[] }).builds;
    expect(listed.map((b) => b.url)).toEqual([`${PUBLIC}/builds/2`, `${PUBLIC}/builds/1`]);

    const trigger = await run(['trigger', 'a', '--force', '--json']);
    expect(trigger.code).toBe(0);
    const queued = (JSON.parse(trigger.stdout) as { build: Linked }).build;
    expect(queued.url).toBe(`${PUBLIC}/builds/${queued.id}`);
    await env.engine.settled();
  });

  it('trigger and show print the page link for people', async () => {
    const trigger = await run(['trigger', 'b', '--force']);
    expect(trigger.stderr).toBe('');
    expect(trigger.stdout).toMatch(
      /^queued build #(\d+) https:\/\/ci\.example\.com\/builds\/\1\n$/,
    );
    await env.engine.settled();

    const show = await run(['show', '1']);
    expect(show.stdout).toMatch(/^page: +https:\/\/ci\.example\.com\/builds\/1$/m);
  });
});
