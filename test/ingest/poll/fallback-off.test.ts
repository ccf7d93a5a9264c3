import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SourcesResponse } from '../../../src/api/types.js';
import { git } from '../../../src/testing/git.js';
import { runCli } from '../../cli/helpers/spawn-cli.js';
import {
  eventually,
  getJson,
  SERVE_TOKEN,
  startServeProcess,
  type ServeProcess,
} from '../../cli/helpers/serve-process.js';

/**
 * Issue 12 point 2: a source with `fallback_poll: off` (webhooks only) still learns its head —
 * one check at start, one when a reload adds it — so `nightless trigger` works before the first
 * push. A real server process, real bare repositories, the real CLI.
 */
let dir: string;
let server: ServeProcess;
let appHead: string;
let libHead: string;

function bareRepo(name: string, content: string): string {
  const work = join(dir, `${name}-work`);
  git(dir, 'init', '-q', work);
  git(work, 'commit', '-q', '--allow-empty', '-m', content);
  git(dir, 'clone', '-q', '--bare', work, join(dir, `${name}.git`));
  return git(work, 'rev-parse', 'HEAD');
}

const config = (withLib: boolean) => `sources:
  app:
    git: ${JSON.stringify(join(dir, 'app.git'))}
    branch: main
    fallback_poll: off
${
  withLib
    ? `  lib:
    git: ${JSON.stringify(join(dir, 'lib.git'))}
    branch: main
    fallback_poll: off
`
    : ''
}jobs:
  build:
    inputs: [app]
    steps: ['true']
${
  withLib
    ? `  lib-build:
    inputs: [lib]
    steps: ['true']
`
    : ''
}`;

interface BuildBody {
  build: {
    id: number;
    job: string;
    state: string;
    inputs: Array<{ source: string; version: string }>;
  };
}

/** `nightless_polls_total` per source, from the metrics endpoint. */
async function pollCounts(): Promise<Record<string, number>> {
  const res = await fetch(`${server.url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const out: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(/^nightless_polls_total\{([^}]*)\} (\d+)$/gm)) {
    const source = /source="([^"]*)"/.exec(m[1] ?? '')?.[1] ?? '';
    out[source] = (out[source] ?? 0) + Number(m[2]);
  }
  return out;
}

const sourceNamed = async (name: string) =>
  (await getJson<SourcesResponse>(`${server.url}/api/sources`)).sources.find(
    (s) => s.name === name,
  );

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'nightless-fallback-off-'));
  appHead = bareRepo('app', 'app one');
  libHead = bareRepo('lib', 'lib one');
  await writeFile(join(dir, 'nightless.yaml'), config(false));
  server = await startServeProcess({
    cwd: dir,
    config: join(dir, 'nightless.yaml'),
    dataDir: join(dir, '.nightless'),
    args: ['--slots', '1'],
  });
}, 90_000);
afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
});

describe('fallback_poll: off', { timeout: 120_000 }, () => {
  it('checks the source once at start: `trigger JOB` builds the current head', async () => {
    const app = await eventually('the head of app', async () => {
      const s = await sourceNamed('app');
      return s !== undefined && s.heads.length > 0 ? s : undefined;
    });
    expect(app.heads).toEqual([
      expect.objectContaining({ ref: 'main', version: appHead, origin: 'poll' }),
    ]);
    expect(app.nextCheckAt).toBeNull();

    // The check found a version, so `build` ran on it already; a forced trigger runs it again.
    const r = await runCli(['trigger', 'build', '--force', '--wait', '--token', SERVE_TOKEN], {
      env: { NIGHTLESS_SERVER: server.url },
    });
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const id = Number(/queued build #(\d+)/.exec(r.stdout)?.[1]);
    const { build } = await getJson<BuildBody>(`${server.url}/api/builds/${id}`);
    expect(build).toMatchObject({ job: 'build', state: 'passed' });
    expect(build.inputs).toEqual([expect.objectContaining({ source: 'app', version: appHead })]);
    const first = await getJson<BuildBody>(`${server.url}/api/builds/1`);
    expect(first.build.inputs).toEqual([
      expect.objectContaining({ source: 'app', version: appHead }),
    ]);
  });

  it('checks a source a reload adds once, and does not check the others again', async () => {
    const before = await pollCounts();
    expect(before).toEqual({ app: 1 });
    await writeFile(join(dir, 'nightless.yaml'), config(true));
    const lib = await eventually('the head of lib after the reload', async () => {
      const s = await sourceNamed('lib');
      return s !== undefined && s.heads.length > 0 ? s : undefined;
    });
    expect(lib.heads).toEqual([expect.objectContaining({ version: libHead, origin: 'poll' })]);
    expect(lib.nextCheckAt).toBeNull();
    // Give a second, spurious check the time to happen: there must be none.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await pollCounts()).toEqual({ app: 1, lib: 1 });
  });
});
