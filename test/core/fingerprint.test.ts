import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/core/canonical-json.js';
import { canonicalDefinition, definitionHash, fingerprint } from '../../src/core/fingerprint.js';
import type { JobDef } from '../../src/core/pipeline.js';
import type { JobSpec } from '../../src/testing/pipeline-builder.js';
import { envRef, git, job, pipeline } from '../../src/testing/pipeline-builder.js';
import { parsePipeline } from '../../src/config/index.js';

/** The job `build` of a one-job pipeline made from `spec`. */
function def(spec: JobSpec, name = 'build'): JobDef {
  const p = pipeline({
    sources: { app: git('main'), lib: git('main') },
    jobs: { [name]: job(spec) },
  });
  return p.jobs.get(name)!;
}

const base: JobSpec = {
  inputs: ['app'],
  steps: ['npm ci', 'npm test'],
  env: { NODE_ENV: 'test', TOKEN: envRef('TOKEN', 's3cret') },
  outputs: { dist: ['dist/*.tgz'], docs: 'site/**' },
};
const baseHash = definitionHash(def(base));

function shuffledKeys<T>(
  record: Readonly<Record<string, T>>,
  order: readonly number[],
): Record<string, T> {
  const entries = Object.entries(record);
  const keyed = entries.map((e, i) => [order[i] ?? i, e] as const).sort((a, b) => a[0] - b[0]);
  return Object.fromEntries(keyed.map(([, e]) => e));
}

describe('canonical definition', () => {
  it('is stable across key order at every level', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1, maxLength: 6 }), fc.string({ maxLength: 6 }), {
          minKeys: 1,
          maxKeys: 6,
        }),
        fc.array(fc.nat(100), { minLength: 6, maxLength: 6 }),
        (env, order) => {
          const a = def({ ...base, env, outputs: { dist: 'a', docs: 'b', site: 'c' } });
          const b = def({
            ...base,
            env: shuffledKeys(env, order),
            outputs: shuffledKeys({ dist: 'a', docs: 'b', site: 'c' }, order),
          });
          expect(canonicalDefinition(a)).toBe(canonicalDefinition(b));
          expect(definitionHash(a)).toBe(definitionHash(b));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('canonicalJson sorts nested keys and keeps array order', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe(
      '{"a":{"c":null,"d":[2,1]},"b":1}',
    );
    expect(canonicalJson({ a: undefined, b: 1 })).toBe('{"b":1}');
  });

  it.each<[string, JobSpec]>([
    ['a step command', { ...base, steps: ['npm ci', 'npm test -- --ci'] }],
    ['the step order', { ...base, steps: ['npm test', 'npm ci'] }],
    [
      'a step name',
      { ...base, steps: [{ name: 'deps', run: 'npm ci', env: {}, timeoutMs: null }, 'npm test'] },
    ],
    [
      'a step env value',
      {
        ...base,
        steps: [
          {
            name: 'npm ci',
            run: 'npm ci',
            env: { CI: { value: '1', template: '1', secret: false } },
            timeoutMs: null,
          },
          'npm test',
        ],
      },
    ],
    [
      'a step timeout',
      {
        ...base,
        steps: [{ name: 'npm ci', run: 'npm ci', env: {}, timeoutMs: 60_000 }, 'npm test'],
      },
    ],
    ['a job env value', { ...base, env: { ...base.env, NODE_ENV: 'production' } }],
    ['a new job env variable', { ...base, env: { ...base.env, EXTRA: '1' } }],
    ['an env template', { ...base, env: { ...base.env, TOKEN: envRef('OTHER_TOKEN', 's3cret') } }],
    ['an output pattern', { ...base, outputs: { dist: ['dist/*.zip'], docs: 'site/**' } }],
    ['an output name', { ...base, outputs: { pkg: ['dist/*.tgz'], docs: 'site/**' } }],
    ['the job timeout', { ...base, timeoutMs: 20 * 60_000 }],
    ['the no-output timeout', { ...base, noOutputTimeoutMs: 5 * 60_000 }],
    ['coverage', { ...base, coverage: { format: 'lcov', path: 'coverage/lcov.info' } }],
    ['the inputs', { ...base, inputs: ['app', 'lib'] }],
  ])('changes with %s', (_what, spec) => {
    expect(definitionHash(def(spec))).not.toBe(baseHash);
  });

  it.each<[string, JobSpec]>([
    ['supersede', { ...base, supersede: false }],
    ['cancel_running', { ...base, cancelRunning: true }],
    ['branches', { ...base, branches: ['release/*'] }],
    ['paths', { ...base, paths: ['src/**'] }],
    ['paths_ignore', { ...base, pathsIgnore: ['**/*.md'] }],
    ['quiet_period', { ...base, quietPeriodMs: 30_000 }],
    ['secrets to mask', { ...base, secrets: ['NPM_TOKEN'] }],
    [
      'publish targets',
      {
        ...base,
        publish: [
          {
            kind: 'sftp',
            host: 'files.example.com',
            port: 22,
            user: 'ci',
            path: '/srv',
            privateKey: null,
            password: null,
            hostKey: 'SHA256:AAAA',
            connectTimeoutMs: 3000,
          },
        ],
      },
    ],
    [
      'a rotated secret (same ${env:TOKEN}, new value)',
      { ...base, env: { ...base.env, TOKEN: envRef('TOKEN', 'rotated') } },
    ],
  ])('does not change with %s', (_what, spec) => {
    expect(definitionHash(def(spec))).toBe(baseHash);
  });

  it('enters env values as written: the template, never the secret value', () => {
    const text = canonicalDefinition(def(base));
    expect(text).toContain('${env:TOKEN}');
    expect(text).not.toContain('s3cret');
  });

  it('differs between two jobs with the same steps', () => {
    expect(definitionHash(def(base, 'staging'))).not.toBe(definitionHash(def(base, 'production')));
  });
});

describe('fingerprint', () => {
  const h = definitionHash(def(base));

  it('does not depend on the order of the input set', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({
            source: fc.string({ minLength: 1, maxLength: 5 }),
            version: fc.string({ maxLength: 8 }),
          }),
          {
            selector: (i) => i.source,
            maxLength: 6,
          },
        ),
        (set) => {
          expect(fingerprint(h, [...set].reverse())).toBe(fingerprint(h, set));
        },
      ),
      { numRuns: 200 },
    );
  });

  it('changes with any version and with the definition', () => {
    const set = [
      { source: 'app', version: 'a1' },
      { source: 'lib', version: 'l1' },
    ];
    const fp = fingerprint(h, set);
    expect(fingerprint(h, [{ source: 'app', version: 'a2' }, set[1]!])).not.toBe(fp);
    expect(fingerprint(h, [set[0]!])).not.toBe(fp);
    expect(fingerprint(definitionHash(def({ ...base, steps: ['make'] })), set)).not.toBe(fp);
    expect(fp).toMatch(/^[0-9a-f]{64}$/);
  });

  it('does not confuse a source name with a version (separator is not part of either)', () => {
    expect(fingerprint(h, [{ source: 'a', version: 'b\nc' }])).not.toBe(
      fingerprint(h, [
        { source: 'a', version: 'b' },
        { source: 'c', version: '' },
      ]),
    );
    expect(fingerprint(h, [{ source: 'ab', version: 'c' }])).not.toBe(
      fingerprint(h, [{ source: 'a', version: 'bc' }]),
    );
    // A version carrying both separators must not equal a two-input set.
    expect(fingerprint(h, [{ source: 'a', version: 'b\nc\u0000d' }])).not.toBe(
      fingerprint(h, [
        { source: 'a', version: 'b' },
        { source: 'c', version: 'd' },
      ]),
    );
  });
});

describe('definition hash of a parsed pipeline file', () => {
  const env = { TOKEN: 'one-secret' };
  const hashOf = (text: string, vars: Record<string, string> = env) =>
    definitionHash(parsePipeline(text, 'nightless.yaml', { env: vars }).jobs.get('build')!);
  const original = `sources:
  app: { git: /srv/app.git }
jobs:
  build:
    inputs: [app]
    env: { NODE_ENV: test, TOKEN: "\${env:TOKEN}" }
    steps:
      - run: npm ci
      - run: npm test
    outputs: { dist: dist/*.tgz }
`;

  it('is the same whatever the key order, whitespace and comments of the YAML', () => {
    const reordered = `# the same pipeline, written differently
jobs:
  build:
    outputs:
      dist: dist/*.tgz      # the tarball
    steps:
      - { run: npm ci }
      - run: npm test
    env:
      TOKEN: "\${env:TOKEN}"
      NODE_ENV: test
    inputs:
      - app
sources:
  app:
    git: /srv/app.git
`;
    expect(hashOf(reordered)).toBe(hashOf(original));
  });

  it('does not change when a secret rotates, and changes when a step does', () => {
    expect(hashOf(original, { TOKEN: 'rotated-secret' })).toBe(hashOf(original));
    expect(hashOf(original.replace('npm test', 'npm test -- --ci'))).not.toBe(hashOf(original));
  });
});
