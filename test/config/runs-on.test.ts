import { describe, expect, it } from 'vitest';
import { ConfigError, parsePipeline } from '../../src/config/index.js';
import { definitionHash } from '../../src/core/fingerprint.js';

const yaml = (runsOn: string) => `pipeline: p
jobs:
  build:
    steps: [make]
    ${runsOn}
`;

describe('runs_on', () => {
  it('resolves to the labels as written, without repeats; a job without it runs anywhere and keeps its hash', () => {
    const job = parsePipeline(yaml('runs_on: [linux, arm64, linux]'), 'n.yaml', {
      env: {},
    }).jobs.get('build');
    expect(job?.runsOn).toEqual(['linux', 'arm64']);
    const plain = parsePipeline(yaml(''), 'n.yaml', { env: {} }).jobs.get('build');
    expect(plain?.runsOn).toEqual([]);
    // Labels are part of the definition: other machines build it again.
    expect(definitionHash(job!)).not.toBe(definitionHash(plain!));
    const swapped = parsePipeline(yaml('runs_on: [arm64, linux]'), 'n.yaml', { env: {} }).jobs.get(
      'build',
    );
    expect(definitionHash(swapped!)).toBe(definitionHash(job!));
    const { runsOn: _none, ...withoutLabels } = plain!;
    expect(definitionHash(plain!)).toBe(definitionHash(withoutLabels));
  });

  it('names a bad label with its position', () => {
    let error: unknown;
    try {
      parsePipeline(yaml('runs_on: [linux, "arm 64"]'), 'n.yaml', { env: {} });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).message).toMatch(
      /^n\.yaml:5:22: jobs\.build\.runs_on\[1\]: invalid label "arm 64"/,
    );
  });
});
