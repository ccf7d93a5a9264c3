import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempDir } from './helpers/spawn-cli.js';

/** `nightless check` as a user runs it: a real process, a file on disk. */
describe('nightless check (real process)', () => {
  it('lists every problem of a file with a duplicate key, not just the duplicate', async () => {
    const cwd = tempDir();
    writeFileSync(
      join(cwd, 'nightless.yaml'),
      `sources:
  app:
    git: ./app
    branch: main
    fallback_poll: 5 minutes
jobs:
  build:
    inputs: [app]
    steps: []
  test:
    inputs: [app]
    steps: [{ run: "true" }]
  test:
    inputs: [ap]
    steps: [{ run: "true" }]
`,
    );
    const r = await runCli(['check'], { cwd });
    expect(r.code).toBe(1);
    const lines = r.stderr.split('\n').filter((l) => /^nightless\.yaml:\d/.test(l));
    expect(lines).toEqual(
      [
        expect.stringMatching(/^nightless\.yaml:5:20: sources\.app\.fallback_poll: /),
        expect.stringMatching(
          /^nightless\.yaml:9:12: jobs\.build\.steps: a job needs at least one step/,
        ),
        // Located at the second "test", the one that counts (the last of duplicate keys wins).
        'nightless.yaml:14:14: jobs.test.inputs[0]: unknown source "ap" (did you mean "app"?)',
        'nightless.yaml:13:3: jobs: duplicate job "test" (first defined on line 10)',
      ].sort(),
    );
    expect(r.stderr).toMatch(/nightless\.yaml: 4 problems\n$/);
  });
});
