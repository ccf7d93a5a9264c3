import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parsePipeline } from '../../src/config/index.js';
import type { Pipeline } from '../../src/core/pipeline.js';
import { FIXTURE_ENV } from './fixture-env.js';

/**
 * What users copy — README, docs and examples — uses the patterns that run: step variables
 * that exist, and a checkout wherever a step runs a script from the repository.
 */
const root = join(import.meta.dirname, '..', '..');
const env = {
  ...FIXTURE_ENV,
  NPM_TOKEN: 'x',
  DATA_TOKEN: 'x',
  DATA_WEBHOOK_SECRET: 'x',
  REPO_WEBHOOK_SECRET: 'x',
  GITEA_TOKEN: 'x',
  QE_SECRET: 'x',
  AMQP_URL: 'amqp://127.0.0.1:5672',
  GITHUB_TOKEN: 'x',
};

const docFiles = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => join('docs', f)),
  ...readdirSync(join(root, 'examples'), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => join('examples', d.name, 'nightless.yaml')),
];

/** Every complete pipeline in a ```yaml block of the README and docs, and every example file. */
function pipelines(): Array<{ where: string; pipeline: Pipeline }> {
  const out: Array<{ where: string; pipeline: Pipeline }> = [];
  for (const file of docFiles) {
    const text = readFileSync(join(root, file), 'utf8');
    const blocks = file.endsWith('.yaml')
      ? [text]
      : [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    blocks.forEach((block, i) => {
      if (!/^jobs:/m.test(block) || !/^sources:/m.test(block)) return;
      try {
        out.push({
          where: `${file} block ${i + 1}`,
          pipeline: parsePipeline(block, file, { env }),
        });
      } catch (err) {
        // Doc fragments need not be whole pipelines; example files must parse.
        if (file.endsWith('.yaml')) throw err;
      }
    });
  }
  return out;
}

describe('documented patterns', () => {
  it('every NIGHTLESS_INPUT_ variable named in README, docs and examples exists', () => {
    const bad: string[] = [];
    for (const file of docFiles) {
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/NIGHTLESS_INPUT_([A-Z0-9_<>]+)/g)) {
        const name = m[1] ?? '';
        if (!/_(VERSION|PATH|REF|FILES|\*)$/.test(name) && !/^<(NAME|SOURCE)>/.test(name))
          bad.push(`${file}: NIGHTLESS_INPUT_${name}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('a job whose steps run a repository script (./…) has a git input to provide it', () => {
    const found = pipelines();
    // README (2 pipelines), pipeline.md, and the five examples at least.
    expect(found.length).toBeGreaterThanOrEqual(7);
    const bad: string[] = [];
    for (const { where, pipeline } of found) {
      for (const job of pipeline.jobs.values()) {
        const runsScript = job.steps.some((s) => /(^|[\s;&|(])\.\/(?!unpacked\/)/.test(s.run));
        const hasCheckout = job.inputs.some((i) => pipeline.sources.get(i)?.kind === 'git');
        if (runsScript && !hasCheckout) bad.push(`${where}: job ${job.name}`);
      }
    }
    expect(bad).toEqual([]);
  });
});
