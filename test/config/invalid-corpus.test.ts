import { readdirSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadPipelineFile } from '../../src/config/index.js';
import { FIXTURE_ENV, FIXTURE_SECRETS } from './fixture-env.js';

/**
 * Every `NN-what.yaml` under test/fixtures/config-invalid must fail with exactly the lines in
 * `NN-what.expected`. An optional `NN-what.options.json` holds `{maxBytes?, env?}`.
 * `UPDATE_EXPECTED=1 npx vitest run test/config/invalid-corpus.test.ts` rewrites the expectations
 * (review the diff: they are the product's error messages).
 */
const DIR = 'test/fixtures/config-invalid';
const fixtures = readdirSync(DIR)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

interface FixtureOptions {
  maxBytes?: number;
  env?: Record<string, string>;
}

describe('invalid pipeline corpus', () => {
  it('has at least 30 fixtures, each with an expectation', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(30);
    for (const f of fixtures)
      expect(existsSync(join(DIR, f.replace(/\.yaml$/, '.expected'))), f).toBe(true);
  });

  it.each(fixtures)('%s', async (fixture) => {
    const path = join(DIR, fixture);
    const base = path.replace(/\.yaml$/, '');
    const options: FixtureOptions = existsSync(`${base}.options.json`)
      ? (JSON.parse(readFileSync(`${base}.options.json`, 'utf8')) as FixtureOptions)
      : {};
    const error = await loadPipelineFile(path, {
      env: { ...FIXTURE_ENV, ...options.env },
      ...(options.maxBytes !== undefined ? { maxBytes: options.maxBytes } : {}),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error, `${fixture} should be rejected`).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    if (process.env.UPDATE_EXPECTED === '1') writeFileSync(`${base}.expected`, `${message}\n`);
    expect(message).toBe(readFileSync(`${base}.expected`, 'utf8').trimEnd());
    for (const secret of FIXTURE_SECRETS) expect(message).not.toContain(secret);
    for (const p of (error as ConfigError).problems) {
      expect(p.file).toBe(path);
      expect(p.line >= 1 || (p.line === 0 && p.column === 0)).toBe(true);
    }
  });
});
