import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { generateToken, hashToken as hash } from '../server/auth/token-secret.js';

export interface ApiToken {
  readonly sha256: string;
  /** The token itself, only when it was generated now (to print once). */
  readonly generated: string | null;
  readonly source: 'env' | 'file' | 'generated';
}

/**
 * The bootstrap token (scope `admin`, docs/security.md): `NIGHTLESS_TOKEN` if set, else the one saved in
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
  const token = generateToken();
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  return { sha256: hash(token), generated: token, source: 'generated' };
}
