import { describe, expect, it } from 'vitest';
import { formatSummary, loadPipelineFile, summarizePipeline } from '../../src/config/index.js';
import { FIXTURE_ENV, FIXTURE_SECRETS } from './fixture-env.js';

describe('summary', () => {
  it('describes the sketch without secrets', async () => {
    const p = await loadPipelineFile('test/fixtures/config-valid/design-sketch.yaml', {
      env: FIXTURE_ENV,
    });
    const s = summarizePipeline(p);
    expect(s.sources.map((x) => [x.name, x.kind, x.url])).toEqual([
      ['app', 'git', 'https://git.example.com/team/app.git'],
      ['glibc', 'amqp', 'amqp://broker.example.com/'],
      ['build.dist', 'job-output', 'build.dist'],
    ]);
    expect(s.jobs).toEqual([
      { name: 'build', inputs: ['app', 'glibc'], steps: 2, outputs: ['dist'], timeout: '20m' },
      { name: 'integration', inputs: ['build.dist'], steps: 1, outputs: [], timeout: '1h' },
    ]);
    expect(s.edges).toEqual([
      { from: 'app', to: 'build', via: 'app' },
      { from: 'glibc', to: 'build', via: 'glibc' },
      { from: 'build', to: 'integration', via: 'build.dist' },
    ]);
    const json = JSON.stringify(s);
    expect(JSON.parse(json)).toEqual(s);
    const text = formatSummary(s);
    for (const secret of FIXTURE_SECRETS) {
      expect(json).not.toContain(secret);
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('  app -> build -> integration');
    expect(text).toContain('  glibc -> build -> integration');
    expect(text).toMatchInlineSnapshot(`
      "pipeline config-valid

      sources (2):
        app  git https://git.example.com/team/app.git  (branches main; poll every 10m)
        glibc  amqp amqp://broker.example.com/  (exchange amq.topic, key buildsys.tag, version {version}-{release})

      jobs (2):
        build  inputs app, glibc; 2 steps; outputs dist; timeout 20m
        integration  inputs build.dist; 1 step; timeout 1h

      graph:
        app -> build -> integration
        glibc -> build -> integration

      reports (3):
        amqp  amqp://broker.example.com/ exchange ci.events
        webhook  https://qe.example.com/ci
        commit_status  github (context "nightless")"
    `);
  });

  it('masks a secret embedded in a URL', async () => {
    const p = await loadPipelineFile('test/fixtures/config-valid/everything.yaml', {
      env: FIXTURE_ENV,
    });
    const s = summarizePipeline(p);
    const json = JSON.stringify(s);
    for (const secret of [...FIXTURE_SECRETS, ...p.secretValues])
      expect(json).not.toContain(secret);
    expect(formatSummary(s)).toContain('site');
  });
});
