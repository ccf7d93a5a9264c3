import { describe, expect, it } from 'vitest';
import { ConfigError, parsePipeline } from '../../src/config/index.js';
import { expandString } from '../../src/config/env-refs.js';

const parse = (text: string, env: Record<string, string>) =>
  parsePipeline(text, 'nightless.yaml', { env });
const errorOf = (fn: () => unknown): ConfigError => {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
};

describe('expandString', () => {
  it('substitutes, escapes and leaves shell variables alone', () => {
    const e = expandString('a ${env:A} $${env:B} ${HOME} $$ $PATH', { A: 'x' });
    expect(e.value).toBe('a x ${env:B} ${HOME} $$ $PATH');
    expect(e.fromEnv).toBe(true);
    expect(e.values).toEqual(['x']);
  });

  it('an escape alone is not a secret', () => {
    expect(expandString('$${env:B}', {})).toMatchObject({
      value: '${env:B}',
      fromEnv: false,
      touched: true,
      errors: [],
    });
  });

  it('reports missing, malformed and unterminated references', () => {
    expect(expandString('${env:NOPE}', {}).errors).toEqual([
      'environment variable "NOPE" is not set',
    ]);
    expect(expandString('${env:9X}', {}).errors[0]).toMatch(/^invalid environment reference/);
    expect(expandString('${env:X', {}).errors[0]).toMatch(/^unterminated/);
  });

  it('an empty variable is set', () => {
    expect(expandString('${env:E}', { E: '' })).toMatchObject({
      value: '',
      errors: [],
      values: [],
    });
  });
});

describe('env references in the pipeline', () => {
  const text = `
sources:
  app:
    git: https://git.example.com/app.git
    webhook_secret: \${env:HOOK}
jobs:
  build:
    inputs: [app]
    env:
      TOKEN: \${env:TOKEN}
      PLAIN: hello
      MIXED: "user-\${env:USER_ID}"
      ESCAPED: "$\${env:TOKEN}"
    steps:
      - run: 'curl -H "Authorization: \${env:TOKEN}" https://example.com'
`;
  const env = { HOOK: 'hook-secret-value', TOKEN: 'token-secret-value', USER_ID: '4242' };

  it('resolves values and keeps the template for the fingerprint', () => {
    const p = parse(text, env);
    const jobEnv = p.jobs.get('build')!.env;
    expect(jobEnv.TOKEN).toEqual({
      value: 'token-secret-value',
      template: '${env:TOKEN}',
      secret: true,
    });
    expect(jobEnv.PLAIN).toEqual({ value: 'hello', template: 'hello', secret: false });
    expect(jobEnv.MIXED).toEqual({
      value: 'user-4242',
      template: 'user-${env:USER_ID}',
      secret: true,
    });
    expect(jobEnv.ESCAPED).toEqual({
      value: '${env:TOKEN}',
      template: '$${env:TOKEN}',
      secret: false,
    });
  });

  it('a rotated secret keeps the same template', () => {
    const a = parse(text, env).jobs.get('build')!.env.TOKEN!;
    const b = parse(text, { ...env, TOKEN: 'rotated' }).jobs.get('build')!.env.TOKEN!;
    expect(a.template).toBe(b.template);
    expect(a.value).not.toBe(b.value);
  });

  it('records every substituted value as secret', () => {
    const p = parse(text, env);
    expect(p.secretValues).toEqual(
      expect.arrayContaining(['hook-secret-value', 'token-secret-value', '4242']),
    );
  });

  it('names a step after its run text as written, not the secret', () => {
    const step = parse(text, env).jobs.get('build')!.steps[0]!;
    expect(step.run).toContain('token-secret-value');
    expect(step.name).toBe('curl -H "Authorization: ${env:TOKEN}" https://example.com');
  });

  it('reports a missing variable precisely', () => {
    const e = errorOf(() => parse(text, { HOOK: 'x', USER_ID: '1' }));
    expect(e.message).toBe(
      [
        'nightless.yaml:10:14: jobs.build.env.TOKEN: environment variable "TOKEN" is not set',
        'nightless.yaml:15:14: jobs.build.steps[0].run: environment variable "TOKEN" is not set',
      ].join('\n'),
    );
  });

  it('never puts a secret value in an error message', () => {
    const leaky = `
jobs:
  build:
    steps: [x]
    timeout: \${env:T}
    outputs: { dist: "\${env:ABS}" }
reports:
  - webhook: { url: "\${env:URL}", secret: literal-webhook-secret-123, timeout: 3 }
  - commit_status: { provider: "\${env:PROVIDER}", token: "\${env:TOKEN}" }
`;
    const secrets = {
      T: 'secret-duration',
      ABS: '/secret/abs/path',
      URL: 'not-a-secret-url',
      PROVIDER: 'secret-provider',
      TOKEN: 'tok-secret',
    };
    const e = errorOf(() => parse(leaky, secrets));
    expect(e.problems.length).toBe(4);
    for (const value of [...Object.values(secrets), 'literal-webhook-secret-123'])
      expect(e.message).not.toContain(value);
    expect(e.message).toContain('invalid duration "${env:T}"');
    expect(e.message).toContain('invalid value "${env:PROVIDER}"');
  });
});
