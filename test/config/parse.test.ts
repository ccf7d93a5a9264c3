import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type {
  GitSource,
  HttpSource,
  AmqpSource,
  JobOutputSource,
} from '../../src/core/pipeline.js';
import {
  ConfigError,
  formatProblem,
  loadPipelineFile,
  parsePipeline,
} from '../../src/config/index.js';
import { FIXTURE_ENV } from './fixture-env.js';

const VALID = 'test/fixtures/config-valid';
const errorOf = async (p: Promise<unknown>): Promise<ConfigError> => {
  const e = await p.then(
    () => null,
    (x: unknown) => x,
  );
  if (!(e instanceof ConfigError)) throw new Error(`expected a ConfigError, got ${String(e)}`);
  return e;
};
const syncError = (fn: () => unknown) => errorOf(Promise.resolve().then(fn));

describe('the DESIGN.md sketch', () => {
  it('parses into the documented shape', async () => {
    const p = await loadPipelineFile(`${VALID}/design-sketch.yaml`, { env: FIXTURE_ENV });
    expect(p.name).toBe('config-valid');
    expect([...p.sources.keys()]).toEqual(['app', 'glibc', 'build.dist']);
    expect(p.sources.get('app')).toEqual<GitSource>({
      kind: 'git',
      name: 'app',
      url: 'https://git.example.com/team/app.git',
      branches: ['main'],
      webhookSecret: FIXTURE_ENV.APP_WEBHOOK_SECRET!,
      fallbackPollMs: 600_000,
      quietPeriodMs: null,
    });
    expect(p.sources.get('glibc')).toEqual<AmqpSource>({
      kind: 'amqp',
      name: 'glibc',
      url: FIXTURE_ENV.AMQP_URL!,
      exchange: 'amq.topic',
      routingKey: 'buildsys.tag',
      match: { tag: 'f42-build', name: 'glibc' },
      versionTemplate: '{version}-{release}',
      quietPeriodMs: null,
      queueExpiresMs: 7 * 24 * 3_600_000,
    });
    expect(p.sources.get('build.dist')).toEqual<JobOutputSource>({
      kind: 'job-output',
      name: 'build.dist',
      job: 'build',
      output: 'dist',
      quietPeriodMs: null,
    });
    const build = p.jobs.get('build')!;
    expect(build).toMatchObject({
      inputs: ['app', 'glibc'],
      timeoutMs: 1_200_000,
      noOutputTimeoutMs: 300_000,
      outputs: { dist: ['dist/*.tgz'] },
      coverage: { format: 'lcov', path: 'coverage/lcov.info' },
      supersede: true,
      cancelRunning: false,
      branches: null,
    });
    expect(build.steps.map((s) => s.name)).toEqual(['npm ci', 'npm test -- --coverage']);
    expect(build.publish).toEqual([
      {
        kind: 'sftp',
        host: 'files.example.com',
        port: 22,
        user: 'ci',
        path: '/srv/builds',
        privateKey: null,
        password: null,
        hostKey: 'ssh-ed25519 AAAAsketch',
        connectTimeoutMs: 3000,
        stallTimeoutMs: 30_000,
      },
    ]);
    expect(p.reports).toEqual([
      { kind: 'amqp', url: FIXTURE_ENV.AMQP_URL, exchange: 'ci.events' },
      {
        kind: 'webhook',
        url: 'https://qe.example.com/ci',
        secret: FIXTURE_ENV.QE_SECRET,
        connectTimeoutMs: 3000,
        timeoutMs: 10_000,
        maxAttempts: 8,
        followRedirects: false,
        allowPrivate: false,
      },
      {
        kind: 'commit_status',
        provider: 'github',
        token: FIXTURE_ENV.GITHUB_TOKEN,
        baseUrl: null,
        context: 'nightless',
        maxAttempts: 8,
        allowPrivate: false,
      },
    ]);
    expect(p.order).toEqual(['build', 'integration']);
    expect(Object.fromEntries(p.consumers)).toEqual({
      app: ['build'],
      glibc: ['build'],
      'build.dist': ['integration'],
    });
    expect([...p.secretValues].sort()).toEqual(
      [
        FIXTURE_ENV.AMQP_URL,
        FIXTURE_ENV.APP_WEBHOOK_SECRET,
        FIXTURE_ENV.QE_SECRET,
        FIXTURE_ENV.GITHUB_TOKEN,
      ].sort(),
    );
  });
});

describe('every key', () => {
  it('resolves the full fixture', async () => {
    const p = await loadPipelineFile(`${VALID}/everything.yaml`, { env: FIXTURE_ENV });
    expect(p.name).toBe('everything');
    expect(p.sources.get('app')).toMatchObject({
      branches: ['main', 'release/*'],
      fallbackPollMs: null,
      quietPeriodMs: 30_000,
    });
    expect(p.sources.get('dataset')).toEqual<HttpSource>({
      kind: 'http',
      name: 'dataset',
      url: 'https://data.example.org/latest.csv',
      headers: { Authorization: `Bearer ${FIXTURE_ENV.ARTIFACTS_TOKEN}`, 'X-Retries': '3' },
      webhookSecret: FIXTURE_ENV.APP_WEBHOOK_SECRET!,
      fallbackPollMs: 5_400_000,
      quietPeriodMs: null,
      maxBytes: 10_000_000,
      allowPrivate: true,
    });
    expect(p.sources.get('glibc')).toMatchObject({
      routingKey: '#',
      match: { 'build.tag': 'f42-build', epoch: 0, scratch: false },
      quietPeriodMs: 500,
    });
    const build = p.jobs.get('build')!;
    expect(build.steps.map((s) => [s.name, s.timeoutMs])).toEqual([
      ['make', null],
      ['test', 90_000],
      ['echo "a very long first line that goes on and on well past …', null],
    ]);
    expect(build.steps[2]!.name).toHaveLength(60);
    expect(build.steps[1]!.env).toEqual({ VERBOSE: { value: '1', template: '1', secret: false } });
    expect(build.env.LEVEL).toEqual({ value: '3', template: '3', secret: false });
    expect(build.env.LITERAL).toEqual({
      value: '${env:NOT_EXPANDED}',
      template: '$${env:NOT_EXPANDED}',
      secret: false,
    });
    expect(build).toMatchObject({
      timeoutMs: null,
      noOutputTimeoutMs: 120_000,
      outputs: { dist: ['dist/*.tgz'], docs: ['docs/**/*.html', 'docs/*.pdf'] },
      coverage: { format: 'cobertura', path: 'coverage/cobertura.xml' },
      branches: ['release/*'],
      paths: ['src/**'],
      pathsIgnore: ['**/*.md'],
      supersede: false,
      cancelRunning: true,
      quietPeriodMs: 60_000,
      secrets: ['ARTIFACTS_TOKEN', 'UNSET_BUT_FINE'],
    });
    expect(build.publish[0]).toEqual({
      kind: 'sftp',
      host: 'files.example.com',
      port: 2222,
      user: 'ci',
      path: '/srv/builds',
      password: { value: FIXTURE_ENV.QE_SECRET, template: '${env:QE_SECRET}', secret: true },
      privateKey: { value: FIXTURE_ENV.SFTP_KEY, template: '${env:SFTP_KEY}', secret: true },
      hostKey: 'ssh-ed25519 AAAAexample',
      connectTimeoutMs: 5000,
      stallTimeoutMs: 20_000,
    });
    expect(build.retry).toEqual({
      on: ['network', 'infrastructure'],
      attempts: 3,
      backoffMs: 10_000,
    });
    expect(p.network).toEqual({ connectTimeoutMs: 2000, stallTimeoutMs: 15_000 });
    expect(p.slos).toEqual([
      {
        name: 'reliability',
        indicator: 'reliability',
        objective: 0.995,
        windowMs: 28 * 86_400_000,
        thresholdMs: null,
        fast: { longMs: 3_600_000, shortMs: 300_000, threshold: 14.4 },
        slow: { longMs: 21_600_000, shortMs: 1_800_000, threshold: 6 },
      },
      {
        name: 'start',
        indicator: 'start_latency',
        objective: 0.99,
        windowMs: 7 * 86_400_000,
        thresholdMs: 30_000,
        fast: { longMs: 600_000, shortMs: 60_000, threshold: 14.4 },
        slow: { longMs: 3_600_000, shortMs: 300_000, threshold: 6 },
      },
      {
        name: 'lead',
        indicator: 'lead_time',
        objective: 0.99,
        windowMs: 28 * 86_400_000,
        thresholdMs: 600_000,
        fast: { longMs: 3_600_000, shortMs: 300_000, threshold: 14.4 },
        slow: { longMs: 21_600_000, shortMs: 1_800_000, threshold: 6 },
      },
    ]);
    expect(p.jobs.get('docs')!.retry).toBeUndefined();
    expect(p.reports[1]).toEqual({
      kind: 'webhook',
      url: 'https://qe.example.com/ci',
      secret: 'literal-report-secret',
      connectTimeoutMs: 1000,
      timeoutMs: 60_000,
      maxAttempts: 8,
      followRedirects: false,
      allowPrivate: true,
    });
    expect(p.reports[2]).toEqual({
      kind: 'commit_status',
      provider: 'gitlab',
      token: FIXTURE_ENV.GITLAB_TOKEN,
      baseUrl: 'https://gitlab.example.com',
      context: 'ci/nightless',
      maxAttempts: 8,
      allowPrivate: false,
    });
    // Literal secrets are secret too, and so are the values of the env vars named in `secrets:`.
    expect(p.secretValues).toEqual(
      expect.arrayContaining([
        'literal-webhook-secret',
        'literal-report-secret',
        FIXTURE_ENV.ARTIFACTS_TOKEN,
      ]),
    );
    // Longest first, so a masker replacing in order never leaves part of a longer secret.
    const lengths = p.secretValues.map((s) => s.length);
    expect(lengths).toEqual([...lengths].sort((a, b) => b - a));
  });

  it('orders jobs upstream first and indexes consumers in declaration order', async () => {
    const p = await loadPipelineFile(`${VALID}/everything.yaml`, { env: FIXTURE_ENV });
    expect([...p.jobs.keys()]).toEqual(['verify', 'build', 'docs', 'site']);
    expect(p.order).toEqual(['build', 'docs', 'verify', 'site']);
    expect(p.consumers.get('build.dist')).toEqual(['verify']);
    expect(p.consumers.get('build.docs')).toEqual(['docs']);
    expect(p.consumers.get('docs.site')).toEqual(['verify']);
    expect(p.consumers.get('app')).toEqual(['build']);
  });
});

describe('freezing', () => {
  it('freezes deeply and refuses map mutation', async () => {
    const p = await loadPipelineFile(`${VALID}/everything.yaml`, { env: FIXTURE_ENV });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.order)).toBe(true);
    expect(Object.isFrozen(p.secretValues)).toBe(true);
    const build = p.jobs.get('build')!;
    for (const v of [
      build,
      build.steps,
      build.steps[0],
      build.env,
      build.env.TOKEN,
      build.outputs,
      build.outputs.dist,
      build.publish[0],
      p.reports[0],
    ]) {
      expect(Object.isFrozen(v)).toBe(true);
    }
    expect(() => (p.jobs as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(() => (p.sources as Map<string, unknown>).delete('app')).toThrow(TypeError);
    expect(() => (p.consumers as Map<string, unknown>).clear()).toThrow(TypeError);
    expect(() => (build.inputs as string[]).push('x')).toThrow(TypeError);
  });
});

describe('pipeline name', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true, maxRetries: 5 })));

  it('defaults to the sanitised directory name', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nl-config-'));
    dirs.push(root);
    const dir = join(root, 'My_Project.v2');
    mkdirSync(dir);
    writeFileSync(join(dir, 'nightless.yaml'), 'jobs:\n  j:\n    steps: [x]\n');
    expect((await loadPipelineFile(join(dir, 'nightless.yaml'), { env: {} })).name).toBe(
      'my-project-v2',
    );
    const odd = join(root, '___');
    mkdirSync(odd);
    writeFileSync(join(odd, 'nightless.yaml'), 'jobs:\n  j:\n    steps: [x]\n');
    expect((await loadPipelineFile(join(odd, 'nightless.yaml'), { env: {} })).name).toBe(
      'nightless',
    );
  });

  it('uses pipeline: when given', () => {
    expect(
      parsePipeline('pipeline: abc\njobs:\n  j:\n    steps: [x]\n', 'x/y.yaml', { env: {} }).name,
    ).toBe('abc');
  });
});

describe('errors', () => {
  it('formats problems exactly', () => {
    expect(
      formatProblem({
        file: 'nightless.yaml',
        line: 14,
        column: 7,
        path: 'jobs.build.inputs[1]',
        message: 'unknown source "glibcc" (did you mean "glibc"?)',
      }),
    ).toBe(
      'nightless.yaml:14:7: jobs.build.inputs[1]: unknown source "glibcc" (did you mean "glibc"?)',
    );
    expect(
      formatProblem({ file: 'a.yaml', line: 0, column: 0, path: '', message: 'file not found' }),
    ).toBe('a.yaml: file not found');
  });

  it('collects every problem, sorted by position, with code and file as given', async () => {
    const text = [
      'jobs:', //                             1
      '  build:', //                          2
      '    inputs: [app, glibcc]', //         3
      '    stpes: [x]', //                    4
      '    timeout: 5 minutes', //            5
      'sources:', //                          6
      '  app: { git: /srv/app.git }', //      7
      '  glibc: { http: "ftp://x.example" }', // 8
    ].join('\n');
    const e = await syncError(() => parsePipeline(text, './ci/nightless.yaml', { env: {} }));
    expect(e.code).toBe('NL_CONFIG_INVALID');
    expect(e.name).toBe('ConfigError');
    expect(e.message.split('\n')).toEqual([
      './ci/nightless.yaml:3:19: jobs.build.inputs[1]: unknown source "glibcc" (did you mean "glibc"?)',
      './ci/nightless.yaml:4:5: jobs.build: unknown key "stpes" (did you mean "steps"?)',
      './ci/nightless.yaml:5:14: jobs.build.timeout: invalid duration "5 minutes": use e.g. 500ms, 90s, 10m, 1h, 1h30m or a number of seconds, or off',
      './ci/nightless.yaml:8:18: sources.glibc.http: invalid URL "ftp://x.example": URL scheme must be http or https, not ftp',
    ]);
    expect(Object.isFrozen(e.problems)).toBe(true);
    expect(e.problems[0]).toEqual({
      file: './ci/nightless.yaml',
      line: 3,
      column: 19,
      path: 'jobs.build.inputs[1]',
      message: 'unknown source "glibcc" (did you mean "glibc"?)',
    });
  });

  it('refuses an oversize file before parsing it', async () => {
    const root = mkdtempSync(join(tmpdir(), 'nl-config-'));
    try {
      const file = join(root, 'nightless.yaml');
      writeFileSync(file, `jobs:\n  j:\n    steps: [x]\n# ${'x'.repeat(1024 * 1024)}\n`);
      const e = await errorOf(loadPipelineFile(file, { env: {}, displayName: 'nightless.yaml' }));
      expect(e.message).toBe('nightless.yaml: file is too large (1.0 MiB; the limit is 1.0 MiB)');
      const e2 = await syncError(() =>
        parsePipeline('jobs: {}\n'.repeat(10), 'small.yaml', { env: {}, maxBytes: 50 }),
      );
      expect(e2.message).toBe('small.yaml: file is too large (90 bytes; the limit is 50 bytes)');
    } finally {
      rmSync(root, { recursive: true, force: true, maxRetries: 5 });
    }
  });

  it('reports a missing file', async () => {
    const e = await errorOf(loadPipelineFile('does/not/exist.yaml'));
    expect(e.message).toBe('does/not/exist.yaml: file not found');
  });

  it('survives a billion-laughs file quickly', async () => {
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 10; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      levels.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const started = Date.now();
    const e = await syncError(() =>
      parsePipeline(`${levels.join('\n')}\njobs: {j: {steps: [x]}}\n`, 'bomb.yaml', { env: {} }),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(e.message).toBe(
      'bomb.yaml:2:8: YAML aliases expand too much (more than 100 alias uses): refusing to load',
    );
  });

  it('an empty file says what is missing', async () => {
    const e = await syncError(() => parsePipeline('# nothing\n', 'nightless.yaml', { env: {} }));
    expect(e.message).toBe('nightless.yaml:1:1: the file is empty: it needs at least "jobs:"');
  });

  it('a top level that is not a mapping', async () => {
    const e = await syncError(() => parsePipeline('- a\n- b\n', 'nightless.yaml', { env: {} }));
    expect(e.message).toBe('nightless.yaml:1:1: expected a mapping, got a list');
  });
});

describe('valid fixtures', () => {
  it.each(['design-sketch.yaml', 'everything.yaml', 'minimal.yaml'])('%s parses', async (f) => {
    await expect(loadPipelineFile(`${VALID}/${f}`, { env: FIXTURE_ENV })).resolves.toBeDefined();
  });

  it('a bare string step is shorthand for {run}', () => {
    const p = parsePipeline('jobs:\n  j:\n    steps: ["make all\\nmake check"]\n', 'p.yaml', {
      env: {},
    });
    expect(p.jobs.get('j')!.steps[0]).toEqual({
      name: 'make all',
      run: 'make all\nmake check',
      env: {},
      timeoutMs: null,
    });
    expect(p.sources.size).toBe(0);
    expect(p.reports).toEqual([]);
  });

  it('branch: and branches: cannot both be set', async () => {
    const e = await syncError(() =>
      parsePipeline(
        'sources:\n  a: { git: /x, branch: main, branches: [dev] }\njobs:\n  j:\n    steps: [x]\n',
        'p.yaml',
        { env: {} },
      ),
    );
    expect(e.message).toBe(
      'p.yaml:2:41: sources.a.branches: use either branch or branches, not both',
    );
  });
});
