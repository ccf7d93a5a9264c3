import type { ApiBuild, ApiBuildDetail } from '../../../src/api/types.js';
import type { Build } from '../../../src/core/build.js';
import type { BuildDetail, DecisionRecord } from '../../../src/store/ports.js';

export const SHA = '3f2a1c0d9e8b7a6f5e4d3c2b1a09f8e7d6c5b4a3';
export const DIGEST = '9b1e77a0c2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f70';
/** 2025-03-01 12:00:00 UTC: fixed so outputs do not depend on when tests run. */
export const T0 = Date.UTC(2025, 2, 1, 12, 0, 0);
export const PUBLIC_URL = 'https://ci.example.test';

/** A build as the API sends it: with the links a server at {@link PUBLIC_URL} adds. */
export function makeBuild(overrides: Partial<Build> = {}): ApiBuild {
  const id = overrides.id ?? 42;
  return {
    id,
    job: 'build',
    state: 'passed',
    fingerprint: 'f'.repeat(64),
    inputs: [
      { source: 'app', version: SHA, origin: 'webhook', eventId: 7, ref: 'main' },
      { source: 'glibc', version: '2.39-1', origin: 'bus', eventId: 5, ref: null },
    ],
    cause: { kind: 'version', source: 'app', version: SHA, eventId: 7 },
    forced: false,
    queuedAt: T0,
    startedAt: T0 + 2_000,
    finishedAt: T0 + 92_000,
    failedStep: null,
    reason: null,
    failureClass: null,
    relatedBuild: null,
    exitCode: 0,
    coverage: null,
    attempt: 1,
    concurrencyGroup: 'build@main',
    ...overrides,
    url: `${PUBLIC_URL}/builds/${id}`,
    apiUrl: `${PUBLIC_URL}/api/builds/${id}`,
  };
}

export function makeDetail(overrides: Partial<BuildDetail> = {}): ApiBuildDetail {
  return {
    ...makeBuild(overrides.id === undefined ? {} : { id: overrides.id }),
    outputs: [
      {
        name: 'dist',
        digest: DIGEST,
        files: [{ path: 'app-1.4.0.tgz', digest: DIGEST, size: 1_258_291 }],
      },
    ],
    warnings: [],
    logBytes: 1234,
    definitionHash: 'd'.repeat(64),
    worker: 'local-1',
    ...overrides,
  };
}

export function makeDecision(overrides: Partial<DecisionRecord> = {}): DecisionRecord {
  return {
    id: 1,
    eventId: 7,
    job: 'build',
    rule: 'new-version',
    source: 'app',
    version: SHA,
    buildId: 42,
    detail: `app@${SHA.slice(0, 7)} is a new head of main`,
    at: T0,
    origin: 'webhook',
    ...overrides,
  };
}
