import { afterEach, describe, expect, it } from 'vitest';
import type { GitSource } from '../../../src/core/pipeline.js';
import { git, job, pipeline } from '../../../src/testing/pipeline-builder.js';
import { fixture, hmacHex, startWebhookEnv, type WebhookEnv } from '../helpers.js';

/**
 * Change request hooks of the three forges, from their documented example payloads
 * (test/fixtures/webhooks/<forge>/pull_request-*.json, merge-request-*.json), signed as each
 * forge signs, through the real server, inbox and scheduler.
 */
const SECRET = 'cr-secret-0123456789';
const FOLLOW: GitSource['changeRequests'] = { targets: ['master', 'main'], checkout: 'head' };

const src = (url: string, changeRequests: GitSource['changeRequests'] = FOLLOW) => ({
  ...git('master', { url, changeRequests }),
  webhookSecret: SECRET,
});

const PIPELINE = pipeline({
  sources: {
    gh: src('https://github.com/Codertocat/Hello-World.git'),
    gl: src('git@example.com:mike/diaspora.git'),
    gt: src('http://localhost:3000/gitea/webhooks.git'),
    plain: src('https://example.com/no/requests.git', null),
  },
  jobs: {
    gh_build: job({ inputs: ['gh'] }),
    gl_build: job({ inputs: ['gl'] }),
    gt_build: job({ inputs: ['gt'] }),
  },
});

let env: WebhookEnv;
afterEach(async () => {
  await env.close();
});

let n = 0;
function github(event: string, body: unknown) {
  const payload = JSON.stringify(body);
  return env.app.inject({
    method: 'POST',
    url: '/hooks/github',
    headers: {
      'content-type': 'application/json',
      'x-github-event': event,
      'x-github-delivery': `cr-${n++}`,
      'x-hub-signature-256': `sha256=${hmacHex(SECRET, payload)}`,
    },
    payload,
  });
}
function gitlab(body: unknown) {
  return env.app.inject({
    method: 'POST',
    url: '/hooks/gitlab',
    headers: {
      'content-type': 'application/json',
      'x-gitlab-event': 'Merge Request Hook',
      'x-gitlab-token': SECRET,
      'idempotency-key': `cr-${n++}`,
    },
    payload: JSON.stringify(body),
  });
}
function gitea(body: unknown, flavour: 'gitea' | 'forgejo' = 'gitea') {
  const payload = JSON.stringify(body);
  return env.app.inject({
    method: 'POST',
    url: '/hooks/gitea',
    headers: {
      'content-type': 'application/json',
      [`x-${flavour}-event`]: 'pull_request',
      [`x-${flavour}-delivery`]: `cr-${n++}`,
      [`x-${flavour}-signature`]: hmacHex(SECRET, payload),
    },
    payload,
  });
}

const sourceEvents = () => env.written.flat().filter((e) => e.kind === 'source');

describe('change request webhooks', () => {
  it('GitHub pull_request opened / synchronize / closed: versions of pr/2, then cancel', async () => {
    env = await startWebhookEnv(PIPELINE);
    const opened = await github('pull_request', fixture('github', 'pull_request-opened'));
    expect(opened.statusCode).toBe(202);
    expect(opened.json()).toMatchObject({ accepted: 1 });
    expect(sourceEvents()).toEqual([
      expect.objectContaining({
        source: 'gh',
        ref: 'pr/2',
        version: 'ec26c3e57ca3a959ca5aad62de7213c562f8c821',
        request: { number: 2, target: 'master', closed: false },
      }),
    ]);
    await env.h.decided();
    await github('pull_request', fixture('github', 'pull_request-synchronize'));
    await env.h.decided();
    let builds = await env.h.builds('gh_build');
    expect(builds.map((b) => [b.state, b.inputs[0]?.ref, b.inputs[0]?.version])).toEqual([
      ['superseded', 'pr/2', 'ec26c3e57ca3a959ca5aad62de7213c562f8c821'],
      ['queued', 'pr/2', '34c5c7793cb3b279e22454cb6750c80560547b3a'],
    ]);
    const closed = await github('pull_request', fixture('github', 'pull_request-closed'));
    expect(closed.statusCode).toBe(202);
    await env.h.decided();
    await expect.poll(async () => (await env.h.builds('gh_build'))[1]?.state).toBe('cancelled');
    builds = await env.h.builds('gh_build');
    expect(builds[1]?.reason).toBe('cancelled: the change request was closed');
    const why = await env.h.decisions({ job: 'gh_build' });
    expect(why.map((d) => d.rule)).toContain('request-closed');

    // Reopened with the same head: built again (its last build was cancelled by the close).
    await github('pull_request', fixture('github', 'pull_request-reopened'));
    await env.h.decided();
    builds = await env.h.builds('gh_build');
    expect(builds.map((b) => b.state)).toEqual(['superseded', 'cancelled', 'queued']);
    expect(builds[2]?.inputs[0]?.version).toBe('34c5c7793cb3b279e22454cb6750c80560547b3a');
  });

  it('GitHub: label changes build nothing; a fork request is a version like any other', async () => {
    env = await startWebhookEnv(PIPELINE);
    const labeled = await github('pull_request', fixture('github', 'pull_request-labeled'));
    expect(labeled.json()).toEqual({
      ignored: 'GitHub change request action "labeled" changes no code: nothing to build',
    });
    const fork = await github('pull_request', fixture('github', 'pull_request-fork-opened'));
    expect(fork.json()).toMatchObject({ accepted: 1 });
    expect(sourceEvents()).toEqual([expect.objectContaining({ source: 'gh', ref: 'pr/3' })]);
  });

  it('GitLab Merge Request Hook open / update / close / merge', async () => {
    env = await startWebhookEnv(PIPELINE);
    for (const name of ['open', 'update', 'close', 'merge'])
      expect((await gitlab(fixture('gitlab', `merge-request-${name}`))).statusCode).toBe(202);
    expect(
      sourceEvents().map((e) => [
        e.kind === 'source' && e.source,
        e.kind === 'source' && e.ref,
        e.kind === 'source' && e.version.slice(0, 7),
        e.kind === 'source' && e.request?.closed,
      ]),
    ).toEqual([
      ['gl', 'pr/1', 'da15608', false],
      ['gl', 'pr/1', 'e3b1a7f', false],
      ['gl', 'pr/1', 'e3b1a7f', true],
      ['gl', 'pr/1', 'e3b1a7f', true],
    ]);
    await env.h.decided();
    // The cancel of a closed request runs after the decision's commit: wait for it.
    await expect
      .poll(async () => (await env.h.builds('gl_build')).map((b) => b.state), { timeout: 10_000 })
      .toEqual(['superseded', 'cancelled']);
  });

  it('Gitea and Forgejo pull_request opened / synchronized / closed', async () => {
    env = await startWebhookEnv(PIPELINE);
    expect((await gitea(fixture('gitea', 'pull_request-opened'))).json()).toMatchObject({
      accepted: 1,
    });
    expect(
      (await gitea(fixture('gitea', 'pull_request-synchronized'), 'forgejo')).json(),
    ).toMatchObject({ accepted: 1 });
    expect((await gitea(fixture('gitea', 'pull_request-closed'))).json()).toMatchObject({
      accepted: 1,
    });
    expect(sourceEvents().map((e) => (e.kind === 'source' ? e.request : null))).toEqual([
      { number: 5, target: 'main', closed: false },
      { number: 5, target: 'main', closed: false },
      { number: 5, target: 'main', closed: true },
    ]);
    await env.h.decided();
    // The cancel of a closed request runs after the decision's commit: wait for it.
    await expect
      .poll(async () => (await env.h.builds('gt_build')).map((b) => b.state), { timeout: 10_000 })
      .toEqual(['superseded', 'cancelled']);
  });

  it('a source without change_requests answers why nothing is built', async () => {
    env = await startWebhookEnv(
      pipeline({
        sources: { gh: src('https://github.com/Codertocat/Hello-World.git', null) },
        jobs: { build: job({ inputs: ['gh'] }) },
      }),
    );
    const res = await github('pull_request', fixture('github', 'pull_request-opened'));
    expect(res.statusCode).toBe(202);
    expect(res.json()).toEqual({
      ignored:
        'no source follows change requests of https://github.com/Codertocat/Hello-World.git into master',
    });
    expect(env.written).toEqual([]);
  });

  it('a payload that is not a pull request is a 400 naming the field', async () => {
    env = await startWebhookEnv(PIPELINE);
    const res = await github('pull_request', { action: 'opened', number: 2 });
    expect(res.statusCode).toBe(400);
    expect(JSON.stringify(res.json())).toMatch(/not a GitHub pull_request payload: pull_request/);
  });
});
