import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { git } from '../../src/testing/git.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNightless, type Nightless } from '../../src/app/start-nightless.js';
import { runInProcess } from '../cli/helpers/in-process.js';
import { Receiver, waitFor } from './helpers.js';
import { sshdUnavailable, TestSshd } from './sshd.js';

const why = sshdUnavailable();

/**
 * The composition root end to end: `nightless serve` with a webhook report and an SFTP publish
 * target runs a real build (local executor, local bare repository), the receiver gets its
 * events with the artifact digests, the outputs land on the real sshd, and `nightless
 * deliveries` shows the target.
 */
describe.skipIf(why !== null)('reports wired into nightless serve', () => {
  let root: string;
  let nl: Nightless;
  let receiver: Receiver;
  let sshd: TestSshd;
  let commit: string;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'nightless-reports-e2e-'));
    sshd = await TestSshd.start();
    receiver = new Receiver();
    const hookUrl = await receiver.start();
    const work = join(root, 'work');
    git(root, 'init', '-q', work);
    await writeFile(join(work, 'README'), 'hello\n');
    git(work, 'add', 'README');
    git(work, 'commit', '-q', '-m', 'first');
    commit = git(work, 'rev-parse', 'HEAD');
    git(root, 'clone', '-q', '--bare', work, join(root, 'app.git'));
    process.env['NL_TEST_SFTP_KEY'] = sshd.userKey;
    await writeFile(
      join(root, 'nightless.yaml'),
      `version: 1
pipeline: e2e
sources:
  app:
    git: ${join(root, 'app.git')}
    branch: main
    fallback_poll: off
jobs:
  build:
    inputs: [app]
    steps:
      - run: mkdir -p dist && echo tarball > dist/app.tgz
    outputs:
      dist: dist/*.tgz
    publish:
      - sftp:
          host: 127.0.0.1
          port: ${sshd.port}
          user: ${sshd.user}
          private_key: \${env:NL_TEST_SFTP_KEY}
          host_key: "${sshd.hostKey}"
          path: ${join(sshd.remoteRoot, 'pub')}
          connect_timeout: 3s
reports:
  - webhook: { url: "${hookUrl}/ci", secret: s3cret, allow_private: true }
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
  }, 60_000);

  afterAll(async () => {
    await nl?.stop();
    await receiver?.stop();
    await sshd?.stop();
    delete process.env['NL_TEST_SFTP_KEY'];
    if (root) await rm(root, { recursive: true, force: true, maxRetries: 5 });
  });

  it('publishes, reports and lists deliveries', async () => {
    await nl.engine.ingest({
      kind: 'source',
      source: 'app',
      version: commit,
      ref: 'main',
      origin: 'hook',
      deliveryId: null,
      changedPaths: null,
      producedBy: null,
      receivedAt: Date.now(),
    });
    await nl.engine.settled();
    const [build] = await nl.store.read.listBuilds({ job: 'build', limit: 1 });
    expect(build).toBeDefined();
    const done = await nl.store.read.getBuild(build!.id);
    expect(done?.state).toBe('passed');
    await waitFor('the finished webhook', () =>
      receiver.requests.some(
        (r) => r.headers['x-nightless-event'] === 'dev.nightless.build.finished',
      ),
    );
    const finished = receiver.requests.find(
      (r) => r.headers['x-nightless-event'] === 'dev.nightless.build.finished',
    )!;
    const event = JSON.parse(finished.body) as {
      source: string;
      data: { build: { url: string }; artifacts: Array<{ output: string; digest: string }> };
    };
    expect(event.source).toBe(`${nl.url}/pipelines/e2e`);
    expect(event.data.build.url).toBe(`${nl.url}/builds/${build!.id}`);
    expect(event.data.artifacts).toEqual([
      expect.objectContaining({ output: 'dist', digest: done!.outputs[0]!.digest }),
    ]);
    const published = join(sshd.remoteRoot, 'pub', 'build', String(build!.id), 'dist', 'app.tgz');
    expect(await readFile(published, 'utf8')).toBe('tarball\n');

    await nl.reports.drained();
    const cli = await runInProcess(['deliveries', '--server', nl.url]);
    expect(cli.code).toBe(0);
    expect(cli.stdout).toMatch(
      /TARGET\s+BEHIND\s+STATUS\n\s*webhook http:\/\/127\.0\.0\.1:\d+\/ci\s+0\s+ok/,
    );
    expect(cli.stdout).toMatch(/#1\s+finished\s+webhook:0:[0-9a-f]{12}\s+delivered/);
  }, 60_000);
});
