import { describe, expect, it } from 'vitest';
import { ConfigError, parsePipeline } from '../../src/config/index.js';

const parse = (text: string, env: Record<string, string> = {}) =>
  parsePipeline(text, '/p/nightless.yaml', { env });

function problems(text: string): string[] {
  try {
    parse(text);
  } catch (err) {
    if (err instanceof ConfigError)
      return err.problems.map((p) => `${p.line}:${p.column} ${p.path}: ${p.message}`);
    throw err;
  }
  throw new Error('expected a ConfigError');
}

const source = (cr: string) => `
sources:
  app:
    git: https://github.com/team/app.git
    change_requests: ${cr}
jobs:
  build:
    inputs: [app]
    steps: [make]
`;

describe('change_requests, isolation and network in nightless.yaml', () => {
  it('true, a list of targets, or the full form', () => {
    const app = (cr: string) => {
      const s = parse(source(cr)).sources.get('app');
      return s?.kind === 'git' ? s.changeRequests : undefined;
    };
    expect(app('true')).toEqual({ targets: ['**'], checkout: 'head', forge: null, api: null });
    expect(app('[main, "release/*"]')).toMatchObject({ targets: ['main', 'release/*'] });
    expect(app('false')).toBeUndefined();
    expect(
      app(`
      targets: [main]
      checkout: merge
      forge: gitlab`),
    ).toEqual({ targets: ['main'], checkout: 'merge', forge: 'gitlab', api: null });
    const withApi = parse(
      source(`
      forge: github
      api_url: https://api.github.com
      project: team/app
      token: \${env:GH_TOKEN}`),
      { GH_TOKEN: 'ghp_secret' },
    );
    const s = withApi.sources.get('app');
    expect(s?.kind === 'git' && s.changeRequests?.api).toEqual({
      baseUrl: 'https://api.github.com',
      project: 'team/app',
      token: 'ghp_secret',
      allowPrivate: false,
    });
    expect(withApi.secretValues).toContain('ghp_secret');
  });

  it('isolation and network per job', () => {
    const p = parse(`
jobs:
  a: { steps: [make], isolation: sandbox, network: true }
  b: { steps: [make], isolation: none }
  c: { steps: [make] }
`);
    expect(p.jobs.get('a')).toMatchObject({ isolation: 'sandbox', network: true });
    expect(p.jobs.get('b')?.isolation).toBe('none');
    expect(p.jobs.get('c')?.isolation).toBeUndefined();
  });

  it('mistakes are reported at their line and column', () => {
    expect(problems(source('{ checkout: rebase }'))).toEqual([
      expect.stringMatching(/^5:\d+ sources\.app\.change_requests\.checkout: /),
    ]);
    expect(problems(source('{ api_url: https://api.github.com }'))[0]).toMatch(
      /^5:\d+ sources\.app\.change_requests\.api_url: api_url needs forge and project too/,
    );
    expect(problems('jobs:\n  a: { steps: [make], isolation: docker }\n')[0]).toMatch(
      /^2:\d+ jobs\.a\.isolation: /,
    );
  });
});
