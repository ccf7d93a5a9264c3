import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { pino } from 'pino';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { git } from '../../src/testing/git.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

export interface AgentProcess {
  readonly child: ChildProcess;
  readonly name: string;
  output(): string;
  /** SIGTERM (drain), SIGKILL after 10 s; resolves when it exited. */
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/** `nightless agent` as a real process (tsx, from source). */
export function startAgent(opts: {
  readonly server: string | readonly string[];
  readonly token: string;
  readonly name: string;
  readonly workDir: string;
  readonly labels?: string;
  readonly slots?: number;
}): AgentProcess {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !k.startsWith('NIGHTLESS_')) env[k] = v;
  env['NIGHTLESS_AGENT_TOKEN'] = opts.token;
  const servers = typeof opts.server === 'string' ? [opts.server] : opts.server;
  const child = spawn(
    process.execPath,
    [
      '--import',
      TSX,
      MAIN,
      'agent',
      ...servers.flatMap((s) => ['--server', s]),
      '--name',
      opts.name,
      '--work-dir',
      opts.workDir,
      '--slots',
      String(opts.slots ?? 1),
      '--claim-wait',
      '5000',
      ...(opts.labels ? ['--labels', opts.labels] : []),
    ],
    { env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return {
    child,
    name: opts.name,
    output: () => out,
    ...stopControls(child, exited, 10_000),
  };
}

export interface ServeProcess {
  readonly child: ChildProcess;
  /** Its base URL once it listens (`listening()`); '' before. */
  url: string;
  output(): string;
  /** Resolves with the URL once it printed it (60 s bound; the output is in the error). */
  listening(): Promise<string>;
  /** SIGTERM (graceful), SIGKILL after 15 s; resolves when it exited. */
  stop(): Promise<void>;
  kill9(): Promise<void>;
}

/**
 * `nightless serve` as a real process (tsx, from source) on a free port: a replica of a scaled-out
 * installation with `database` (PostgreSQL) and `bus` (RabbitMQ), data directory `dir/name`, the
 * pipeline file `dir/nightless.yaml`, admin token `admin`.
 */
export function startServe(opts: {
  readonly dir: string;
  readonly name: string;
  readonly database: string;
  readonly bus: string;
  readonly admin: string;
  readonly slots: number;
  readonly args?: readonly string[];
}): ServeProcess {
  const { dir, name } = opts;
  const child = spawn(
    process.execPath,
    [
      ...['--import', TSX, MAIN, 'serve', '--port', '0', '--slots', String(opts.slots)],
      ...['--no-watch', '-c', join(dir, 'nightless.yaml'), '-d', join(dir, name)],
      ...['--log-level', 'warn', ...(opts.args ?? [])],
    ],
    {
      cwd: dir,
      env: {
        ...process.env,
        NIGHTLESS_TOKEN: opts.admin,
        NIGHTLESS_DATABASE_URL: opts.database,
        NIGHTLESS_BUS_URL: opts.bus,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const serve: ServeProcess = {
    child,
    url: '',
    output: () => out,
    async listening() {
      serve.url = await eventually(
        `${name} to listen`,
        () => Promise.resolve(/at (http:\/\/\S+)/.exec(out)?.[1]),
        60_000,
      ).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n${out}`);
      });
      return serve.url;
    },
    ...stopControls(child, exited, 15_000),
  };
  return serve;
}

/** A port nobody listens on now (for a server that must come back on the same address). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function startServer(
  root: string,
  port: number,
  leaseMs = 3000,
  readAuth = false,
  database?: string,
): Promise<Nightless> {
  return startNightless({
    ...(database === undefined ? {} : { database }),
    configPath: join(root, 'nightless.yaml'),
    dataDir: join(root, 'data'),
    host: '127.0.0.1',
    port,
    // Builds go to agents only: jobs say `runs_on`, and local slots never take those.
    slots: 1,
    logger: pino({ level: process.env.NL_TEST_LOG ?? 'silent' }),
    watchConfig: false,
    agentLeaseMs: leaseMs,
    readAuth,
  });
}

export async function adminToken(root: string): Promise<string> {
  return (await readFile(join(root, 'data', 'token'), 'utf8')).trim();
}

export async function api(
  url: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; json: unknown; text: string }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // Not JSON (a log, an artifact).
  }
  return { status: res.status, json, text };
}

export async function agentToken(url: string, admin: string, name: string): Promise<string> {
  const res = await api(url, admin, 'POST', '/api/agent-tokens', { name });
  if (res.status !== 201) throw new Error(`agent token: ${res.status} ${res.text}`);
  return (res.json as { token: string }).token;
}

export async function commit(work: string, content: string): Promise<string> {
  await writeFile(join(work, 'f'), content);
  git(work, 'add', '.');
  git(work, 'commit', '-qm', content);
  return git(work, 'rev-parse', 'HEAD');
}

export async function push(url: string, admin: string, work: string, sha: string): Promise<void> {
  const res = await api(url, admin, 'POST', '/hooks/git', {
    repo: work,
    updates: [{ old: '0'.repeat(40), new: sha, ref: 'refs/heads/main' }],
  });
  if (res.status !== 202) throw new Error(`push: ${res.status} ${res.text}`);
}

/** Polls `probe` every 100 ms until it returns something other than `undefined`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 30_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 100_000; i++) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Whether a process with this id still runs. A zombie does not: a step whose parent died is
 * reparented to pid 1, which may reap it only much later.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return !existsSync('/proc/self'); // gone meanwhile, or no /proc (not Linux)
  }
}

export { git };

/** A CloudEvent as a report webhook received it (what the agent tests count). */
export interface ReceivedEvent {
  readonly type: string;
  readonly subject: string;
  readonly id: string;
}

/**
 * A report webhook on a loopback port that appends every CloudEvent it receives to `events`;
 * resolves once it listens, with its port.
 */
export async function startEventReceiver(
  events: ReceivedEvent[],
): Promise<{ server: Server; port: number }> {
  const server = createHttpServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const e = JSON.parse(body) as ReceivedEvent;
      events.push({ type: e.type, subject: e.subject, id: e.id });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * `stop` (wake a frozen process, SIGTERM, SIGKILL after `killAfterMs`) and `kill9` of a child
 * process; both resolve once it exited and do nothing when it already has.
 */
function stopControls(
  child: ChildProcess,
  exited: Promise<void>,
  killAfterMs: number,
): { stop(): Promise<void>; kill9(): Promise<void> } {
  const gone = () => child.exitCode !== null || child.signalCode !== null;
  return {
    async stop() {
      if (gone()) return;
      child.kill('SIGCONT');
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
      await exited;
      clearTimeout(t);
    },
    async kill9() {
      if (gone()) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
}
