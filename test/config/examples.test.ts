import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadPipelineFile } from '../../src/config/index.js';
import { FIXTURE_ENV } from './fixture-env.js';

/** Every example must stay valid: they are what users copy. */
const EXAMPLE_ENV = {
  ...FIXTURE_ENV,
  NPM_TOKEN: 'npm-example-token',
  DATA_TOKEN: 'data-example-token',
  DATA_WEBHOOK_SECRET: 'data-example-webhook',
  REPO_WEBHOOK_SECRET: 'repo-example-webhook',
  GITEA_TOKEN: 'gitea-example-token',
};
const examples = readdirSync('examples', { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)
  .sort();

describe('examples', () => {
  it('has the documented examples', () => {
    expect(examples).toEqual(expect.arrayContaining(['node-app', 'koji-rebuild', 'http-input']));
  });

  it.each(examples)('examples/%s/nightless.yaml parses', async (name) => {
    const p = await loadPipelineFile(`examples/${name}/nightless.yaml`, { env: EXAMPLE_ENV });
    expect(p.jobs.size).toBeGreaterThan(0);
    expect(p.order).toHaveLength(p.jobs.size);
  });

  it('node-app chains build → integration through an output', async () => {
    const p = await loadPipelineFile('examples/node-app/nightless.yaml', { env: EXAMPLE_ENV });
    expect(p.order).toEqual(['build', 'integration']);
    expect(p.consumers.get('build.tarball')).toEqual(['integration']);
  });

  it('koji-rebuild settles bus bursts', async () => {
    const p = await loadPipelineFile('examples/koji-rebuild/nightless.yaml', { env: EXAMPLE_ENV });
    expect(p.sources.get('glibc')).toMatchObject({
      kind: 'amqp',
      quietPeriodMs: 300_000,
      match: { tag: 'f42-build', name: 'glibc' },
    });
    expect(p.jobs.get('rebuild')!.quietPeriodMs).toBe(120_000);
  });

  it('monorepo merges anchored env maps', async () => {
    const p = await loadPipelineFile('examples/monorepo/nightless.yaml', { env: EXAMPLE_ENV });
    expect(Object.keys(p.jobs.get('web')!.env)).toEqual(['CI', 'REGISTRY', 'NODE_OPTIONS']);
  });
});
