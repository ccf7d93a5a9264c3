import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, Socket, type AddressInfo } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';

const SSHD = ['/usr/sbin/sshd', '/usr/bin/sshd'].find((p) => existsSync(p)) ?? null;

/** Why a real sshd can't run here (`null` when it can): no openssh-server, or not root. */
export function sshdUnavailable(): string | null {
  if (!SSHD) return 'sshd is not installed (Debian: apt-get install openssh-server)';
  if (spawnSync('ssh-keygen', ['-?'], { stdio: 'ignore' }).error) return 'ssh-keygen is missing';
  if (process.getuid?.() !== 0) return 'sshd needs root to run here';
  return null;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

function keygen(path: string): void {
  const r = spawnSync('ssh-keygen', [
    '-q',
    '-t',
    'ed25519',
    '-N',
    '',
    '-C',
    'nightless-test',
    '-f',
    path,
  ]);
  if (r.status !== 0) throw new Error(`ssh-keygen failed: ${r.stderr.toString()}`);
}

/**
 * A real OpenSSH server on 127.0.0.1:<free port> with a temporary host key, one authorized user
 * key, and the internal SFTP server (CONVENTIONS §14). `stop()` kills it and removes its files.
 */
export class TestSshd {
  private constructor(
    private readonly child: ChildProcess,
    readonly dir: string,
    readonly port: number,
    /** `ssh-ed25519 AAAA… comment`, as known_hosts / host_key takes it. */
    readonly hostKey: string,
    readonly userKey: string,
    readonly user: string,
  ) {}

  /** A directory the test user can write to over SFTP. */
  get remoteRoot(): string {
    return join(this.dir, 'remote');
  }

  static async start(): Promise<TestSshd> {
    if (!SSHD) throw new Error('sshd is not installed');
    const dir = await mkdtemp(join(tmpdir(), 'nightless-sshd-'));
    keygen(join(dir, 'host_key'));
    keygen(join(dir, 'user_key'));
    await writeFile(join(dir, 'authorized_keys'), await readFile(join(dir, 'user_key.pub')));
    await mkdir(join(dir, 'remote'));
    await mkdir('/run/sshd', { recursive: true }); // privilege separation directory
    const port = await freePort();
    const config = [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${join(dir, 'host_key')}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'Subsystem sftp internal-sftp',
      'LogLevel ERROR',
    ].join('\n');
    await writeFile(join(dir, 'sshd_config'), `${config}\n`);
    const child = spawn(SSHD, ['-D', '-e', '-f', join(dir, 'sshd_config')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await accepts(port))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill();
        await rm(dir, { recursive: true, force: true, maxRetries: 5 });
        throw new Error(`sshd did not start: ${stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return new TestSshd(
      child,
      dir,
      port,
      (await readFile(join(dir, 'host_key.pub'), 'utf8')).trim(),
      await readFile(join(dir, 'user_key'), 'utf8'),
      userInfo().username,
    );
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
    s.connect(port, '127.0.0.1');
  });
}
