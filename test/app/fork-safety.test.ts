import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import type { Build } from '../../src/core/build.js';
import { git } from '../../src/testing/git.js';
import { fixture } from '../ingest/helpers.js';
import { parseApproveTarget } from '../../src/cli/commands/approve.js';
import { runInProcess } from '../cli/helpers/in-process.js';
import { waitFor } from './serve-helpers.js';

/**
 * Fork safety end to end (docs/change-requests.md): real `startNightless`, a signed GitHub
 * `pull_request` hook from a fork, real sandboxed steps. The job has a `${env:}` secret and an
 * SFTP publish whose host refuses: a trusted build would see the secret and fail to publish.
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
    throw new Error('bwrap is required under CI (.ci/run installs it)');
  console.warn('SKIPPED: fork safety tests need a working bwrap (apt-get install bubblewrap)');
}

const TOKEN = 'fork-safety-token-0123456789';
const HOOK_SECRET = 'fork-hook-secret-0123';
const SECRET_VALUE = 'deploy-key-must-not-leak-7f3a';
let root: string;
let repo: string;
let forkSha: string;
let nl: Nightless;

beforeAll(async () => {
  if (!hasBwrap) return;
  process.env['NIGHTLESS_TOKEN'] = TOKEN;
  process.env['FORK_TEST_DEPLOY_KEY'] = SECRET_VALUE;
  process.env['FORK_TEST_HOOK_SECRET'] = HOOK_SECRET;
  root = await mkdtemp(join(tmpdir(), 'nightless-fork-'));
  const work = join(root, 'work');
  git(root, 'init', '-q', '--initial-branch=main', work);
  await writeFile(join(work, 'README'), 'hello\n');
  git(work, 'add', 'README');
  git(work, 'commit', '-q', '-m', 'first');
  repo = join(root, 'app.git');
  git(root, 'clone', '-q', '--bare', work, repo);
  // The fork's commit reaches the target repository as GitHub stores it: refs/pull/3/head.
  await writeFile(join(work, 'README'), 'hello from a stranger\n');
  git(work, 'commit', '-q', '-am', 'fork change');
  forkSha = git(work, 'rev-parse', 'HEAD');
  git(work, 'push', '-q', repo, `HEAD:refs/pull/3/head`);
  const closedPort = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
  await writeFile(
    join(root, 'nightless.yaml'),
    `sources:
  app:
    git: ${JSON.stringify(repo)}
    branch: main
    webhook_secret: \${env:FORK_TEST_HOOK_SECRET}
    fallback_poll: off
    change_requests: [main]
jobs:
  build:
    inputs: [app]
    env:
      DEPLOY_KEY: \${env:FORK_TEST_DEPLOY_KEY}
    steps:
      - name: show
        run: |
          cat README
          echo "key=\${DEPLOY_KEY:-unset}"
          env | sort
    publish:
      - sftp:
          host: 127.0.0.1
          port: ${closedPort}
          user: ci
          path: /srv/builds
          password: \${env:FORK_TEST_DEPLOY_KEY}
          host_key: "SHA256:AAAA"
          connect_timeout: 2s
`,
  );
  nl = await startNightless({
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port: 0,
    slots: 1,
    logger: pino({ level: 'silent' }),
    watchConfig: false,
  });
});

afterAll(async () => {
  if (!hasBwrap) return;
  await nl.stop();
  delete process.env['NIGHTLESS_TOKEN'];
  delete process.env['FORK_TEST_DEPLOY_KEY'];
  delete process.env['FORK_TEST_HOOK_SECRET'];
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

async function hook(body: unknown): Promise<Response> {
  const payload = JSON.stringify(body);
  return fetch(`${nl.url}/hooks/github`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'pull_request',
      'x-github-delivery': `fork-${Math.random()}`,
      'x-hub-signature-256': `sha256=${createHmac('sha256', HOOK_SECRET).update(payload).digest('hex')}`,
    },
    body: payload,
    signal: AbortSignal.timeout(5000),
  });
}

function forkPayload(): Record<string, unknown> {
  const body = fixture('github', 'pull_request-fork-opened') as {
    pull_request: { head: { sha: string }; base: { ref: string } };
    repository: Record<string, unknown>;
  };
  body.pull_request.head.sha = forkSha;
  body.pull_request.base.ref = 'main';
  body.repository = { ...body.repository, clone_url: repo };
  return body;
}

async function finished(id?: number): Promise<Build> {
  return waitFor(
    async () => {
      const builds = await nl.store.read.listBuilds({ job: 'build', limit: 20 });
      const b = builds.find((x) => x.inputs[0]?.ref === 'pr/3' && (id === undefined || x.id > id));
      return b && b.finishedAt !== null ? b : undefined;
    },
    30_000,
    () => 'the request build never finished',
  );
}

const log = (id: number) => readFile(join(root, 'data', 'logs', `${id}.log`), 'utf8');

describe.skipIf(!hasBwrap)('a change request from a fork', () => {
  it('builds sandboxed with no secrets and no publish; an approval of its head SHA trusts it', async () => {
    const res = await hook(forkPayload());
    expect(res.status).toBe(202);
    const first = await finished();
    expect(first.state).toBe('passed');
    const text = await log(first.id);
    expect(text).toContain('hello from a stranger');
    expect(text).toContain('key=unset');
    expect(text).toContain('untrusted build: app pr/3 comes from a fork');
    expect(text).toContain('sandbox: bubblewrap, network off');
    expect(text).not.toContain(SECRET_VALUE);
    expect(text).not.toContain('FORK_TEST_DEPLOY_KEY');
    expect(text).not.toContain(TOKEN);

    // `trace pr/3` follows the request's head downstream.
    const traced = await runInProcess(['trace', 'pr/3'], {
      env: { NIGHTLESS_SERVER: nl.url, NIGHTLESS_TOKEN: TOKEN, NO_COLOR: '1' },
      cwd: root,
    });
    expect(traced.stderr).toBe('');
    expect(traced.stdout).toContain(`app@${forkSha.slice(0, 10)}`);
    expect(traced.stdout).toMatch(new RegExp(`build #${first.id} passed`));

    // The list says it is a fork and not approved; approving another commit is refused.
    const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
    const list = (await (await fetch(`${nl.url}/api/requests`, { headers: auth })).json()) as {
      requests: Array<{ number: number; fork: boolean; approved: boolean; author: string }>;
    };
    expect(list.requests).toEqual([
      expect.objectContaining({ number: 3, fork: true, approved: false, author: 'Octo-Stranger' }),
    ]);
    const wrong = await fetch(`${nl.url}/api/requests/app/3/approve`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ sha: '0123456789abcdef' }),
    });
    expect(wrong.status).toBe(409);
    const cli = await runInProcess(['approve', `pr/3@${forkSha.slice(0, 10)}`], {
      env: { NIGHTLESS_SERVER: nl.url, NIGHTLESS_TOKEN: TOKEN },
      cwd: root,
    });
    expect(cli.stderr).toBe('');
    expect(cli.stdout).toBe(
      `approved app pr/3 at ${forkSha.slice(0, 12)} ("Update the README with new information." by Octo-Stranger)\n`,
    );
    const after = (await (await fetch(`${nl.url}/api/requests`, { headers: auth })).json()) as {
      requests: Array<{ approved: boolean }>;
    };
    expect(after.requests[0]?.approved).toBe(true);

    // Approved: a rebuild of the same head gets the secret and tries to publish (refused port).
    const rebuild = await fetch(`${nl.url}/api/builds/${first.id}/rebuild`, {
      method: 'POST',
      headers: auth,
      body: '{}',
    });
    expect(rebuild.status).toBeLessThan(300);
    const second = await finished(first.id);
    expect(second.state).toBe('error');
    // It reached publishing: the SFTP target refuses the connection (a `network` failure).
    expect(second.reason).toMatch(/sftp connect/);
    const trusted = await log(second.id);
    expect(trusted).not.toContain('untrusted build');
    // Masked in the log, but present: the step saw a value.
    expect(trusted).not.toContain('key=unset');
    expect(trusted).not.toContain(SECRET_VALUE);
  });
});

describe('nightless approve: the argument', () => {
  it('is [SOURCE:]pr/NUMBER@SHA, and anything else says how to write it', () => {
    expect(parseApproveTarget('pr/42@3F2A1C0')).toEqual({
      source: null,
      number: 42,
      sha: '3f2a1c0',
    });
    expect(parseApproveTarget('app:pr/7@0123456789abcdef')).toMatchObject({
      source: 'app',
      number: 7,
    });
    expect(() => parseApproveTarget('pr/42')).toThrow(
      '"pr/42" is not a request at a commit: write pr/NUMBER@SHA (or SOURCE:pr/NUMBER@SHA), e.g. pr/42@3f2a1c0',
    );
    expect(() => parseApproveTarget('pr/42@main')).toThrow(/not a request at a commit/);
  });
});
