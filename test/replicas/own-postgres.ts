import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Where Debian/Ubuntu put the server binaries; `NIGHTLESS_TEST_PG_BIN` points elsewhere. */
const BIN = process.env.NIGHTLESS_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

/**
 * A PostgreSQL cluster of the test's own, on a free loopback port in a temporary directory: the
 * test may stop and restart it without disturbing the machine's shared server. PostgreSQL refuses
 * to run as root, so as root every command runs as the `postgres` user (`runuser`).
 */
export interface OwnPostgres {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth). */
  readonly url: string;
  /** `pg_ctl stop -m fast`: clients are disconnected, the server is gone until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops (immediately) and removes the directory. Safe to call twice. */
  destroy(): Promise<void>;
  /** The server's log, for failure messages. */
  readonly logFile: string;
}

/** Why an own cluster cannot be made here, or null. */
export async function ownPostgresUnavailable(): Promise<string | null> {
  if (!existsSync(join(BIN, 'initdb')) || !existsSync(join(BIN, 'pg_ctl')))
    return `no PostgreSQL server binaries in ${BIN} (set NIGHTLESS_TEST_PG_BIN)`;
  if (userInfo().uid === 0) {
    try {
      await run('runuser', ['-u', 'postgres', '--', 'true'], { timeout: 10_000 });
    } catch (err) {
      return `running as root and cannot run commands as the postgres user: ${(err as Error).message}`;
    }
  }
  return null;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startOwnPostgres(): Promise<OwnPostgres> {
  const dir = await mkdtemp(join(tmpdir(), 'nightless-own-pg-'));
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  await chmod(dir, 0o700);
  const as = (cmd: string, args: string[]) =>
    asRoot
      ? run('runuser', ['-u', 'postgres', '--', join(BIN, cmd), ...args], { timeout: 60_000 })
      : run(join(BIN, cmd), args, { timeout: 60_000 });
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  // fsync off: the test restarts the server, it never loses power; the socket in the temp dir.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`;
  const start = async () => {
    await as('pg_ctl', ['-D', data, '-o', options, '-l', logFile, '-w', '-t', '30', 'start']);
  };
  await start();
  let destroyed = false;
  return {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    logFile,
    start,
    stop: async () => {
      await as('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '30', 'stop']);
    },
    destroy: async () => {
      if (destroyed) return;
      destroyed = true;
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']).catch(
        () => undefined,
      );
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}
