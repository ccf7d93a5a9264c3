import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Client, SFTPWrapper } from 'ssh2';
import { isNetworkError } from '../../core/network-failure.js';
import type { SftpPublish } from '../../core/pipeline.js';
import {
  fingerprint,
  hostKeyAlgorithms,
  matchesHostKey,
  parseHostKey,
  type ExpectedHostKey,
} from './host-key.js';

/** A file to publish: where it goes below the build's directory and where its bytes are. */
export interface PublishFile {
  /** Relative, `/`-separated: the file's path in the workspace (`dist/app.tgz`). */
  readonly remotePath: string;
  readonly localPath: string;
  readonly size: number;
}

/** A publish that failed; `message` is what the build's reason shows. */
export class PublishError extends Error {
  /** The network failed (connect timeout, refused, reset, stalled), not the server's answer. */
  readonly network: boolean;

  constructor(message: string, options?: { cause?: unknown; network?: boolean }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PublishError';
    this.network = options?.network ?? isNetworkError(options?.cause);
  }
}

/**
 * Uploads `files` into `<path>/<job>/<build id>/` over SFTP (docs/events.md, "SFTP publish").
 *
 * - Fail fast: `connectTimeoutMs` bounds the TCP connect, the SSH handshake, authentication and
 *   opening the SFTP session together; past it the socket is destroyed and the publish fails
 *   with `sftp connect timeout after 5s to HOST:PORT` — a host that drops packets never hangs.
 * - No trust on first use: the server's host key must match `host_key` (a public key, a
 *   known_hosts line or a `SHA256:` fingerprint); without one, nothing is sent.
 * - Atomic: each file goes to a temporary name in its final directory, its size is checked, then
 *   it is renamed into place (POSIX rename where the server offers it, so it replaces).
 */
export async function publishSftp(
  def: SftpPublish,
  target: { readonly job: string; readonly buildId: number },
  files: readonly PublishFile[],
  signal?: AbortSignal,
): Promise<{ readonly directory: string; readonly files: number; readonly bytes: number }> {
  const where = `${def.host}:${def.port}`;
  // `check` refuses a target without host_key; this guards definitions built in code.
  if (def.hostKey.trim() === '')
    throw new PublishError(
      `sftp ${where}: no host_key configured; nightless does not trust unknown hosts ` +
        '(add host_key: "ssh-ed25519 AAAA…" or "SHA256:…" from ssh-keyscan/ssh-keygen -lf)',
    );
  const expected = parseHostKey(def.hostKey);
  if (!expected)
    throw new PublishError(
      `sftp ${where}: host_key is neither a public key ("ssh-ed25519 AAAA…") nor a fingerprint ("SHA256:…")`,
    );
  const { client, sftp } = await connect(def, expected, signal);
  const onAbort = () => client.destroy();
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const directory = posix.join(def.path, target.job, String(target.buildId));
    let bytes = 0;
    const made = new Set<string>();
    for (const f of files) {
      const dest = posix.join(directory, f.remotePath);
      if (!dest.startsWith(`${directory}/`))
        throw new PublishError(`refusing to publish outside ${directory}: ${f.remotePath}`);
      await mkdirs(sftp, posix.dirname(dest), made);
      const tmp = posix.join(
        posix.dirname(dest),
        `.${posix.basename(dest)}.${randomBytes(4).toString('hex')}.nightless-tmp`,
      );
      await op<void>((cb) => sftp.fastPut(f.localPath, tmp, cb), `upload to ${tmp}`);
      const st = await op<{ size: number }>((cb) => sftp.stat(tmp, cb), `stat ${tmp}`);
      if (st.size !== f.size) {
        await op<void>((cb) => sftp.unlink(tmp, cb), `remove ${tmp}`).catch(() => undefined);
        throw new PublishError(
          `sftp ${where}: ${dest} has ${st.size} bytes after upload, expected ${f.size}`,
        );
      }
      await rename(sftp, tmp, dest);
      bytes += f.size;
    }
    return { directory, files: files.length, bytes };
  } catch (err) {
    if (signal?.aborted) throw new PublishError('sftp publish cancelled', { cause: err });
    if (err instanceof PublishError) throw err;
    throw new PublishError(`sftp ${where}: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
      network: isNetworkError(err),
    });
  } finally {
    signal?.removeEventListener('abort', onAbort);
    client.end();
  }
}

async function connect(
  def: SftpPublish,
  expected: ExpectedHostKey,
  signal: AbortSignal | undefined,
): Promise<{ client: Client; sftp: SFTPWrapper }> {
  const where = `${def.host}:${def.port}`;
  const ms = def.connectTimeoutMs;
  // Loaded on the first publish: most pipelines never publish, and ssh2 is slow to load.
  const ssh2 = await import('ssh2');
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let offered: Buffer | null = null;
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      client.destroy();
      reject(err);
    };
    const timer = setTimeout(
      () =>
        fail(
          new PublishError(`sftp connect timeout after ${seconds(ms)} to ${where}`, {
            network: true,
          }),
        ),
      ms,
    );
    const onAbort = () => fail(new PublishError('sftp publish cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    client.on('error', (err: Error & { level?: string }) => {
      if (offered && !matchesHostKey(expected, offered)) {
        fail(
          new PublishError(
            `sftp ${where}: host key mismatch: the server offered ${fingerprint(offered)}, ` +
              `which does not match host_key (${describe(expected)}); refusing to connect`,
          ),
        );
      } else if (err.level === 'client-authentication') {
        fail(new PublishError(`sftp ${where}: authentication failed for user ${def.user}`));
      } else if (err.level === 'client-timeout') {
        fail(
          new PublishError(`sftp connect timeout after ${seconds(ms)} to ${where}`, {
            network: true,
          }),
        );
      } else {
        fail(new PublishError(`sftp connect to ${where} failed: ${err.message}`, { cause: err }));
      }
    });
    client.on('close', () =>
      fail(new PublishError(`sftp ${where}: connection closed during setup`, { network: true })),
    );
    client.on('ready', () => {
      client.sftp((err, sftp) => {
        if (err) return fail(new PublishError(`sftp ${where}: no SFTP subsystem: ${err.message}`));
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        resolve({ client, sftp });
      });
    });
    const algorithms = hostKeyAlgorithms(expected);
    client.connect({
      host: def.host,
      port: def.port,
      username: def.user,
      ...(def.privateKey ? { privateKey: def.privateKey.value } : {}),
      ...(def.password ? { password: def.password.value } : {}),
      // Our own timer above bounds the whole setup; this is ssh2's own backstop.
      readyTimeout: ms + 1_000,
      // A peer that stops answering mid-transfer is given up after about the stall limit.
      keepaliveInterval: Math.max(1_000, Math.floor((def.stallTimeoutMs ?? 15_000) / 3)),
      keepaliveCountMax: 3,
      hostVerifier: (key: Buffer) => {
        offered = key;
        return matchesHostKey(expected, key);
      },
      ...(algorithms ? { algorithms: { serverHostKey: algorithms as never } } : {}),
    });
  });
}

async function mkdirs(sftp: SFTPWrapper, dir: string, made: Set<string>): Promise<void> {
  if (made.has(dir) || dir === '/' || dir === '.' || dir === '') return;
  const exists = await op<{ isDirectory(): boolean }>((cb) => sftp.stat(dir, cb), `stat ${dir}`)
    .then((s) => s.isDirectory())
    .catch(() => null);
  if (exists === false) throw new PublishError(`${dir} exists and is not a directory`);
  if (exists === null) {
    await mkdirs(sftp, posix.dirname(dir), made);
    await op<void>((cb) => sftp.mkdir(dir, cb), `mkdir ${dir}`).catch(async (err: unknown) => {
      // Made meanwhile by someone else: fine.
      const again = await op<{ isDirectory(): boolean }>((cb) => sftp.stat(dir, cb), `stat ${dir}`)
        .then((s) => s.isDirectory())
        .catch(() => false);
      if (!again) throw err;
    });
  }
  made.add(dir);
}

async function rename(sftp: SFTPWrapper, from: string, to: string): Promise<void> {
  try {
    // POSIX rename replaces an existing file atomically (OpenSSH extension).
    await op<void>((cb) => sftp.ext_openssh_rename(from, to, cb), `rename ${from}`);
  } catch {
    await op<void>((cb) => sftp.rename(from, to, cb), `rename ${from} to ${to}`);
  }
}

/** Promise wrapper for ssh2's callback API, naming the operation on failure. */
function op<T>(
  call: (cb: (err?: Error | null, value?: T) => void) => void,
  what: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    try {
      call((err, value) => {
        if (err) reject(new Error(`${what}: ${err.message}`, { cause: err }));
        else resolve(value as T);
      });
    } catch (err) {
      reject(err instanceof Error ? err : new Error(String(err)));
    }
  });
}

function describe(e: ExpectedHostKey): string {
  return e.kind === 'key' ? `${e.type} ${fingerprint(e.blob)}` : `SHA256:${e.sha256}`;
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
