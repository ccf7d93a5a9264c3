import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startWithToken, writeOneJobPipeline } from '../../src/testing/token-server.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Nightless, StartOptions } from '../../src/app/start-nightless.js';
import { runCli } from './helpers/spawn-cli.js';

/**
 * Scoped tokens through the real `nightless` command (a process, from source) against a real
 * server (`startNightless`, SQLite, HTTP on 127.0.0.1) whose reads need a token (`--read-auth`).
 */

const BOOTSTRAP = 'nl_token-process-bootstrap';
let root: string;
let repo: string;
let commit: string;

async function pipelineDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'nightless-tokens-'));
  ({ bare: repo, commit } = await writeOneJobPipeline(dir));
  return dir;
}

/** Each server gets its own data directory (one server per directory). */
function start(dir: string, extra: Partial<StartOptions> = {}): Promise<Nightless> {
  return startWithToken(dir, BOOTSTRAP, {
    dataDir: join(dir, `data-${Math.random().toString(36).slice(2)}`),
    readAuth: true,
    ...extra,
  });
}

function nightless(nl: Nightless, token: string, ...args: string[]) {
  return runCli([...args, '--server', nl.url, '--token', token], { timeoutMs: 30_000 });
}

/** Each CLI run pays Node + tsx start-up (seconds on a busy machine). */
const CLI_TEST_MS = 120_000;

async function post(nl: Nightless, path: string, token: string | null, body: unknown) {
  const res = await fetch(`${nl.url}${path}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

beforeAll(async () => {
  root = await pipelineDir();
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true, maxRetries: 5 });
});

describe('nightless token create / list / revoke, through the CLI', () => {
  let nl: Nightless;
  beforeAll(async () => {
    nl = await start(root);
  });
  afterAll(async () => {
    await nl.stop();
  });

  it(
    'prints a read token once; it reads but cannot trigger; list never shows the secret; revoke refuses it at once',
    async () => {
      const created = await nightless(
        nl,
        BOOTSTRAP,
        'token',
        'create',
        '--name',
        'grafana',
        '--scope',
        'read',
        '--expires',
        '90d',
      );
      expect(created.code, created.stderr).toBe(0);
      const secret = created.stdout.split('\n')[0]!;
      expect(secret).toMatch(/^nl_[A-Za-z0-9_-]{43}$/);
      expect(created.stdout).toContain('token "grafana" (read), expires');

      const listed = await nightless(nl, BOOTSTRAP, 'token', 'list');
      expect(listed.code).toBe(0);
      expect(listed.stdout).toMatch(/grafana\s+read\s+active/);
      expect(listed.stdout).not.toContain(secret);

      const status = await nightless(nl, secret, 'status');
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('build');

      const trigger = await nightless(nl, secret, 'trigger', 'build');
      expect(trigger.code).not.toBe(0);
      expect(trigger.stderr).toContain('403 NL_FORBIDDEN');
      expect(trigger.stderr).toContain('needs trigger');

      const revoked = await nightless(nl, BOOTSTRAP, 'token', 'revoke', 'grafana');
      expect(revoked.stdout).toBe('revoked token "grafana"\n');
      const after = await nightless(nl, secret, 'status');
      expect(after.code).not.toBe(0);
      expect(after.stderr).toContain('401 NL_UNAUTHORIZED: the bearer token is not valid');

      const audit = await nightless(nl, BOOTSTRAP, 'audit', '--since', '1d', '--json');
      const entries = (
        JSON.parse(audit.stdout) as {
          entries: Array<{
            actor: string;
            action: string;
            status: number;
            errorCode: string | null;
            target: Record<string, string>;
          }>;
        }
      ).entries;
      expect(entries.map((e) => [e.actor, e.action, e.status])).toEqual([
        ['bootstrap', 'DELETE /api/tokens/:name', 200],
        ['grafana', 'POST /api/jobs/:job/trigger', 403],
        ['bootstrap', 'POST /api/tokens', 201],
      ]);
      expect(entries[1]).toMatchObject({ errorCode: 'NL_FORBIDDEN', target: { job: 'build' } });
      const table = await nightless(nl, BOOTSTRAP, 'audit');
      expect(table.stdout).toMatch(
        /grafana\s+127\.0\.0\.1\s+POST \/api\/jobs\/:job\/trigger\s+job=build\s+403 NL_FORBIDDEN/,
      );
    },
    CLI_TEST_MS,
  );

  it(
    'refuses an expired token exactly like an unknown one',
    async () => {
      const created = await post(nl, '/api/tokens', BOOTSTRAP, {
        name: 'brief',
        scopes: ['read'],
        expiresInMs: 300,
      });
      expect(created.status).toBe(201);
      const brief = (created.body as { token: string }).token;
      const ok = await fetch(`${nl.url}/api/jobs`, {
        headers: { authorization: `Bearer ${brief}` },
      });
      expect(ok.status).toBe(200);
      await new Promise((r) => setTimeout(r, 400));
      const expired = await fetch(`${nl.url}/api/jobs`, {
        headers: { authorization: `Bearer ${brief}` },
      });
      const unknown = await fetch(`${nl.url}/api/jobs`, {
        headers: { authorization: 'Bearer nl_nothing' },
      });
      expect(expired.status).toBe(401);
      expect(await expired.json()).toEqual(await unknown.json());
      const list = await nightless(nl, BOOTSTRAP, 'token', 'list');
      expect(list.stdout).toMatch(/brief\s+read\s+expired/);
    },
    CLI_TEST_MS,
  );

  it(
    'a hook token announces a push but cannot trigger or read logs',
    async () => {
      const created = await post(nl, '/api/tokens', BOOTSTRAP, {
        name: 'hook:app',
        scopes: ['hook'],
      });
      const hook = (created.body as { token: string }).token;
      const pushed = await post(nl, '/hooks/git', hook, {
        repo,
        updates: [{ old: '0'.repeat(40), new: commit, ref: 'refs/heads/main' }],
      });
      expect(pushed.status).toBe(202);
      expect((await post(nl, '/api/jobs/build/trigger', hook, {})).status).toBe(403);
      const log = await fetch(`${nl.url}/api/builds/1/log`, {
        headers: { authorization: `Bearer ${hook}` },
      });
      expect(log.status).toBe(403);
      const logs = await nightless(nl, hook, 'logs', '1');
      expect(logs.stderr).toContain('403 NL_FORBIDDEN');
    },
    CLI_TEST_MS,
  );
});

describe('repeated authentication failures from one address', () => {
  it('are slowed with 429 and Retry-After, counted in a metric, and never say whether a token exists', async () => {
    const nl = await start(root, { authFailureLimit: { maxFailures: 3, windowMs: 2000 } });
    try {
      const bodies = new Set<string>();
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${nl.url}/api/jobs`, {
          headers: { authorization: `Bearer nl_guess${i}` },
        });
        expect(res.status).toBe(401);
        bodies.add(await res.text());
      }
      expect(bodies.size).toBe(1);
      const throttled = await fetch(`${nl.url}/api/jobs`, {
        headers: { authorization: `Bearer ${BOOTSTRAP}` },
      });
      expect(throttled.status).toBe(429);
      expect(Number(throttled.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(((await throttled.json()) as { error: { code: string } }).error.code).toBe(
        'NL_RATE_LIMITED',
      );
      // A missing token is not a guess: it does not count towards the limit.
      await new Promise((r) => setTimeout(r, 2100));
      const metrics = await fetch(`${nl.url}/metrics`, {
        headers: { authorization: `Bearer ${BOOTSTRAP}` },
      });
      expect(metrics.status).toBe(200);
      const text = await metrics.text();
      expect(text).toContain('nightless_auth_failures_total{reason="invalid"} 3');
      expect(text).toContain('nightless_auth_failures_total{reason="throttled"} 1');
    } finally {
      await nl.stop();
    }
  });
});
