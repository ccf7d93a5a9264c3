import { describe, expect, it } from 'vitest';
import type { Build } from '../../../src/core/build.js';
import type { ChangeRequest } from '../../../src/core/change-request.js';
import type { PublishDef } from '../../../src/core/pipeline.js';
import { runSpecFor } from '../../../src/runner/remote/run-spec.js';
import type { TrustLookup } from '../../../src/runner/build-trust.js';
import { envRef, git, job, pipeline } from '../../../src/testing/pipeline-builder.js';

/**
 * What a claim hands an agent (`runner/remote/run-spec.ts`): an untrusted change-request build
 * gets no secret value and is marked for the sandbox; nobody gets publish settings.
 */
const sftp = {
  sftp: { host: 'files.example.com', user: 'ci', path: '/srv', password: envRef('SFTP_PW', 'pw!') },
} as unknown as PublishDef;

const p = pipeline({
  sources: { app: git('main', { changeRequests: { checkout: 'merge' } as never }) },
  jobs: {
    build: job({
      inputs: ['app'],
      env: { PLAIN: 'visible', TOKEN: envRef('DEPLOY_TOKEN', 's3cret') },
      steps: ['make'],
      secrets: ['EXTRA'],
      publish: [sftp],
    }),
  },
});

function buildOf(ref: string): Build {
  return {
    id: 7,
    job: 'build',
    state: 'running',
    fingerprint: 'f',
    inputs: [{ source: 'app', version: 'a'.repeat(40), origin: 'webhook', eventId: 1, ref }],
    cause: { kind: 'version', source: 'app', version: 'a'.repeat(40), eventId: 1 },
    forced: false,
    queuedAt: 1,
    startedAt: 2,
    finishedAt: null,
    failedStep: null,
    reason: null,
    failureClass: null,
    relatedBuild: null,
    exitCode: null,
    coverage: null,
    attempt: 1,
    concurrencyGroup: 'build@main',
  } as unknown as Build;
}

function lookup(fork: boolean, approved: boolean): TrustLookup {
  const request: ChangeRequest = {
    source: 'app',
    number: 42,
    forge: 'github',
    title: 't',
    author: 'someone',
    target: 'main',
    headSha: 'a'.repeat(40),
    fork,
    state: 'open',
    url: null,
    updatedAt: 1,
  };
  return {
    getRequest: () => Promise.resolve(request),
    approvalOf: () =>
      Promise.resolve(
        approved ? { source: 'app', number: 42, sha: 'a'.repeat(40), by: 'm', at: 1 } : null,
      ),
  };
}

const deps = (requests: TrustLookup) => ({
  queue: { outputFiles: () => Promise.resolve([]) },
  secret: (name: string) => (name === 'EXTRA' ? 'extra-value' : undefined),
  buildUrl: (id: number) => `https://ci.example.com/builds/${id}`,
  requests,
});

describe('the run spec an agent receives', () => {
  it("an unapproved fork's build: untrusted, no secret values, no publish, merge target kept", async () => {
    const spec = await runSpecFor(buildOf('pr/42'), p, deps(lookup(true, false)));
    if ('missing' in spec) throw new Error(spec.missing);
    expect(spec.untrusted).toMatch(/comes from a fork/);
    expect(spec.secretValues).toEqual([]);
    expect(spec.job.env).toEqual({ PLAIN: expect.objectContaining({ value: 'visible' }) });
    expect(spec.job.publish).toEqual([]);
    expect(spec.job.secrets).toEqual([]);
    expect(spec.inputs[0]?.mergeTarget).toBe('main');
    expect(JSON.stringify(spec)).not.toMatch(/s3cret|extra-value|pw!/);
  });

  it('a trusted build gets its env and mask values, still no publish settings', async () => {
    for (const [ref, requests] of [
      ['main', lookup(false, false)],
      ['pr/42', lookup(true, true)],
    ] as const) {
      const spec = await runSpecFor(buildOf(ref), p, deps(requests));
      if ('missing' in spec) throw new Error(spec.missing);
      expect(spec.untrusted).toBeUndefined();
      expect(spec.job.env.TOKEN?.value).toBe('s3cret');
      expect(spec.secretValues).toContain('extra-value');
      expect(spec.job.publish).toEqual([]);
      expect(JSON.stringify(spec)).not.toContain('pw!');
    }
  });
});
