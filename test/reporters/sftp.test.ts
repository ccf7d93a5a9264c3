import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Build } from '../../src/core/build.js';
import type { JobDef, SftpPublish } from '../../src/core/pipeline.js';
import type { RunResult } from '../../src/executor/port.js';
import { publishOutputs } from '../../src/reporters/sftp/publish-outputs.js';
import {
  PublishError,
  publishSftp,
  type PublishFile,
} from '../../src/reporters/sftp/sftp-publisher.js';
import { Blackhole } from './blackhole.js';
import { quiet } from './helpers.js';
import { sshdUnavailable, TestSshd } from './sshd.js';

const why = sshdUnavailable();
if (why) {
  if (process.env.CI === 'true')
    throw new Error(`the SFTP tests need a real sshd under CI: ${why}`);
  console.warn(`\n*** SKIPPING the SFTP tests: ${why} ***\n`);
}

/** Whatever ends first, and how long it took. */
async function timed<T>(p: Promise<T>): Promise<{ ms: number; error: unknown }> {
  const started = Date.now();
  try {
    await p;
    return { ms: Date.now() - started, error: null };
  } catch (error) {
    return { ms: Date.now() - started, error };
  }
}

describe('sftp connect timeout (fail fast, no sshd needed)', () => {
  const base: SftpPublish = {
    kind: 'sftp',
    host: '127.0.0.1',
    port: 1,
    user: 'ci',
    path: '/srv/builds',
    privateKey: null,
    password: { value: 'x', template: '${env:X}', secret: true },
    hostKey: 'SHA256:AAAA',
    connectTimeoutMs: 1_000,
  };

  it('a listener that accepts and never speaks fails within connect_timeout with a clear error', async () => {
    const held: Socket[] = [];
    const mute: Server = createServer((s) => held.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as AddressInfo).port;
    try {
      const { ms, error } = await timed(
        publishSftp({ ...base, port }, { job: 'build', buildId: 1 }, []),
      );
      expect(error).toBeInstanceOf(PublishError);
      expect((error as Error).message).toBe(`sftp connect timeout after 1s to 127.0.0.1:${port}`);
      expect(ms).toBeGreaterThanOrEqual(950);
      expect(ms).toBeLessThan(1_400);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });

  it('a port that drops the SYN (full accept backlog) fails within connect_timeout too', async () => {
    const hole = await Blackhole.start();
    try {
      const { ms, error } = await timed(
        publishSftp({ ...base, port: hole.port }, { job: 'build', buildId: 1 }, []),
      );
      expect((error as Error).message).toBe(
        `sftp connect timeout after 1s to 127.0.0.1:${hole.port}`,
      );
      expect(ms).toBeLessThan(1_400);
    } finally {
      await hole.stop();
    }
  });

  it('turns a publish to a silent host into an error build with code network (class network)', async () => {
    const held: Socket[] = [];
    const mute: Server = createServer((s) => held.push(s));
    await new Promise<void>((r) => mute.listen(0, '127.0.0.1', r));
    const port = (mute.address() as AddressInfo).port;
    const job = { name: 'build', publish: [{ ...base, port }] } as unknown as JobDef;
    const passed: RunResult = { state: 'passed', outputs: [], coverage: null, warnings: [] };
    try {
      const result = await publishOutputs({ pathOf: () => '/nonexistent', logger: quiet })(
        { id: 7 } as Build,
        job,
        passed,
        new AbortController().signal,
      );
      expect(result).toEqual({
        state: 'error',
        code: 'network',
        step: null,
        reason: `sftp connect timeout after 1s to 127.0.0.1:${port}`,
        outputs: [],
        coverage: null,
        warnings: [],
      });
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => mute.close(() => r()));
    }
  });
});

describe.skipIf(why !== null)('sftp publish (real OpenSSH sshd)', () => {
  let sshd: TestSshd;
  let local: string;
  let files: PublishFile[];

  beforeAll(async () => {
    sshd = await TestSshd.start();
    local = await mkdtemp(join(tmpdir(), 'nightless-sftp-local-'));
    await writeFile(join(local, 'a'), 'hello tarball\n');
    await writeFile(join(local, 'b'), Buffer.alloc(300_000, 7));
    files = [
      { remotePath: 'dist/app-1.0.tgz', localPath: join(local, 'a'), size: 14 },
      { remotePath: 'dist/docs/site/index.bin', localPath: join(local, 'b'), size: 300_000 },
    ];
  });

  afterAll(async () => {
    await sshd?.stop();
    await rm(local, { recursive: true, force: true, maxRetries: 5 });
  });

  function def(over: Partial<SftpPublish> = {}): SftpPublish {
    return {
      kind: 'sftp',
      host: '127.0.0.1',
      port: sshd.port,
      user: sshd.user,
      path: join(sshd.remoteRoot, 'builds'),
      privateKey: { value: sshd.userKey, template: '${env:SFTP_KEY}', secret: true },
      password: null,
      hostKey: sshd.hostKey,
      connectTimeoutMs: 5_000,
      ...over,
    };
  }

  it('uploads every file atomically, creating directories, and checks sizes', async () => {
    const done = await publishSftp(def(), { job: 'build', buildId: 42 }, files);
    const dir = join(sshd.remoteRoot, 'builds', 'build', '42');
    expect(done).toEqual({ directory: dir, files: 2, bytes: 300_014 });
    expect(await readFile(join(dir, 'dist/app-1.0.tgz'), 'utf8')).toBe('hello tarball\n');
    expect((await stat(join(dir, 'dist/docs/site/index.bin'))).size).toBe(300_000);
    // No temporary names left behind.
    expect(await readdir(join(dir, 'dist'))).toEqual(['app-1.0.tgz', 'docs']);
    // Publishing again replaces in place (rename over the old file).
    await writeFile(join(local, 'a'), 'hello TARBALL\n');
    await publishSftp(def(), { job: 'build', buildId: 42 }, files);
    expect(await readFile(join(dir, 'dist/app-1.0.tgz'), 'utf8')).toBe('hello TARBALL\n');
  });

  it('accepts the host key as a SHA256 fingerprint or a known_hosts line', async () => {
    const fp = spawnSync('ssh-keygen', ['-lf', join(sshd.dir, 'host_key.pub')])
      .stdout.toString()
      .split(' ')[1]!;
    expect(fp).toMatch(/^SHA256:/);
    await publishSftp(def({ hostKey: fp }), { job: 'build', buildId: 43 }, files.slice(0, 1));
    await publishSftp(
      def({ hostKey: `[127.0.0.1]:${sshd.port} ${sshd.hostKey}` }),
      { job: 'build', buildId: 44 },
      files.slice(0, 1),
    );
  });

  it('refuses a host whose key does not match, and sends nothing', async () => {
    const other = await mkdtemp(join(tmpdir(), 'nightless-otherkey-'));
    spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(other, 'k')]);
    const wrong = (await readFile(join(other, 'k.pub'), 'utf8')).trim();
    await rm(other, { recursive: true, force: true, maxRetries: 5 });
    const { error } = await timed(
      publishSftp(def({ hostKey: wrong }), { job: 'build', buildId: 45 }, files),
    );
    expect(error).toBeInstanceOf(PublishError);
    expect((error as Error).message).toMatch(
      new RegExp(
        `^sftp 127\\.0\\.0\\.1:${sshd.port}: host key mismatch: the server offered SHA256:\\S+, which does not match host_key`,
      ),
    );
    await expect(stat(join(sshd.remoteRoot, 'builds', 'build', '45'))).rejects.toThrow();
  });

  it('never trusts on first use: no host_key, no connection', async () => {
    const { error } = await timed(
      publishSftp(def({ hostKey: '' }), { job: 'build', buildId: 46 }, files),
    );
    expect((error as Error).message).toMatch(/no host_key configured/);
  });

  it('names an authentication failure', async () => {
    const { error } = await timed(
      publishSftp(
        def({ privateKey: null, password: { value: 'nope', template: 'nope', secret: true } }),
        { job: 'build', buildId: 47 },
        files,
      ),
    );
    expect((error as Error).message).toBe(
      `sftp 127.0.0.1:${sshd.port}: authentication failed for user ${sshd.user}`,
    );
  });
});
