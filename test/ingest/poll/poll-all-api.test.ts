import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../../src/app/start-nightless.js';
import { git } from '../../../src/testing/git.js';

/**
 * `POST /api/sources/poll` on a real server: two sources on one bare repository, one on
 * another, one with `fallback_poll: off` (checked once at start, never by a poll of all), and
 * one whose repository is missing.
 */
let root: string;
let nl: Nightless;
let head: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'nightless-poll-all-'));
  const work = join(root, 'work');
  git(root, 'init', '-q', '--initial-branch=main', work);
  await writeFile(join(work, 'f'), '1');
  git(work, 'add', '.');
  git(work, 'commit', '-qm', 'one');
  git(work, 'branch', 'release');
  head = git(work, 'rev-parse', 'HEAD');
  git(root, 'clone', '-q', '--bare', work, join(root, 'mono.git'));
  git(root, 'clone', '-q', '--bare', work, join(root, 'tool.git'));
  await writeFile(
    join(root, 'nightless.yaml'),
    `version: 1
pipeline: poll-all
sources:
  web:
    git: ${join(root, 'mono.git')}
    branch: main
  api:
    git: ${join(root, 'mono.git')}
    branch: release
  tool:
    git: ${join(root, 'tool.git')}
    branch: main
  gone:
    git: ${join(root, 'missing.git')}
    branch: main
  quiet:
    git: ${join(root, 'tool.git')}
    branch: main
    fallback_poll: off
jobs:
  build:
    inputs: [web, api, tool, gone, quiet]
    steps: ['true']
`,
  );
  nl = await startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port: 0,
    slots: 0,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
}, 60_000);

afterAll(async () => {
  await nl?.stop();
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

const pollAll = async (auth: string | null) =>
  fetch(`${nl.url}/api/sources/poll`, {
    method: 'POST',
    headers: auth === null ? {} : { authorization: `Bearer ${auth}` },
    signal: AbortSignal.timeout(30_000),
  });

describe('POST /api/sources/poll', () => {
  it('needs the API token', async () => {
    const res = await pollAll(null);
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: { code: 'NL_UNAUTHORIZED' } });
  });

  it('checks every source with a fallback poll, by name, and reports each one', async () => {
    const token = (await readFile(join(root, 'data', 'token'), 'utf8')).trim();
    const res = await pollAll(token);
    expect(res.status).toBe(200);
    const { polls } = (await res.json()) as {
      polls: Array<{ source: string; ok: boolean; error: string | null; nextCheckAt: number }>;
    };
    expect(polls.map((p) => [p.source, p.ok])).toEqual([
      ['api', true],
      ['gone', false],
      ['tool', true],
      ['web', true],
    ]);
    expect(polls.find((p) => p.source === 'gone')?.error).toMatch(/git ls-remote .* failed/);
    expect(polls.every((p) => p.nextCheckAt > Date.now())).toBe(true);
    await nl.engine.decided();
    expect((await nl.store.sources.sourceHeads('api'))[0]).toMatchObject({
      ref: 'release',
      version: head,
    });
  });
});
