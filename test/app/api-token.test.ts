import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadApiToken } from '../../src/app/api-token.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');

describe('API token', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nightless-token-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true, maxRetries: 5 }));

  it('generates one on first start, saves it 0600, and reuses it without showing it again', async () => {
    const first = await loadApiToken(dir, {});
    expect(first.source).toBe('generated');
    expect(first.generated).toMatch(/^nl_[A-Za-z0-9_-]{43}$/);
    const saved = (await readFile(join(dir, 'token'), 'utf8')).trim();
    expect(saved).toBe(first.generated);
    expect((await stat(join(dir, 'token'))).mode & 0o777).toBe(0o600);
    const second = await loadApiToken(dir, {});
    expect(second).toEqual({ sha256: first.sha256, generated: null, source: 'file' });
  });

  it('prefers NIGHTLESS_TOKEN and never writes it to disk', async () => {
    const t = await loadApiToken(dir, { NIGHTLESS_TOKEN: 'from-env-token' });
    expect(t).toEqual({ sha256: sha('from-env-token'), generated: null, source: 'env' });
    await expect(stat(join(dir, 'token'))).rejects.toThrow(/ENOENT/);
  });
});
