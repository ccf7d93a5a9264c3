import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ApiToken {
  readonly sha256: string;
  /** The token itself, only when it was generated now (to print once). */
  readonly generated: string | null;
  readonly source: 'env' | 'file' | 'generated';
}

/**
 * The bearer token for mutating API calls: `NIGHTLESS_TOKEN` if set, else the one saved in
 * `<dataDir>/token` (mode 0600, so the local CLI finds it), else a new random one.
 */
export async function loadApiToken(
  dataDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<ApiToken> {
  const fromEnv = env.NIGHTLESS_TOKEN;
  if (fromEnv) return { sha256: hash(fromEnv), generated: null, source: 'env' };
  const file = join(dataDir, 'token');
  try {
    const saved = (await readFile(file, 'utf8')).trim();
    if (saved) return { sha256: hash(saved), generated: null, source: 'file' };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(24).toString('base64url');
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { sha256: hash(token), generated: token, source: 'generated' };
}

function hash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}
