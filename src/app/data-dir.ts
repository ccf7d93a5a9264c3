import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/**
 * Creates the data directory (database, logs, artifacts, token) with a `.gitignore` of `*`, so
 * `.nightless/` inside a repository never shows up in `git status` or gets committed — the token
 * lives there. An existing `.gitignore` is left as the user made it. Safe to call twice.
 */
export async function prepareDataDir(dataDir: string): Promise<string> {
  const dir = resolve(dataDir);
  await mkdir(dir, { recursive: true });
  try {
    await writeFile(
      join(dir, '.gitignore'),
      '# nightless state (database, logs, artifacts, API token): never commit it\n*\n',
      { flag: 'wx' },
    );
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  return dir;
}
