import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { startNightless, type Nightless, type StartOptions } from '../app/start-nightless.js';
import { seededRepo, type SeededRepo } from './git.js';

/**
 * `<root>/nightless.yaml`: one source `app` over a seeded repository (one commit, no polling
 * beyond the start-up check) and one job `build` running `true` — the smallest real pipeline.
 */
export async function writeOneJobPipeline(root: string, sourceExtra = ''): Promise<SeededRepo> {
  const repo = seededRepo(root);
  await writeFile(
    join(root, 'nightless.yaml'),
    `version: 1
sources:
  app:
    git: ${repo.bare}
    branch: main
    fallback_poll: off${sourceExtra}
jobs:
  build:
    inputs: [app]
    steps: ['true']
`,
  );
  return repo;
}

/**
 * A real `startNightless` over `<root>/nightless.yaml` (port 0, no build slots) whose bootstrap
 * (admin) token is `token`: the server the access-control tests talk to.
 */
export async function startWithToken(
  root: string,
  token: string,
  extra: Partial<StartOptions> = {},
): Promise<Nightless> {
  const before = process.env.NIGHTLESS_TOKEN;
  process.env.NIGHTLESS_TOKEN = token;
  try {
    return await startNightless({
      configPath: join(root, 'nightless.yaml'),
      dataDir: join(root, 'data'),
      host: '127.0.0.1',
      port: 0,
      slots: 0,
      logger: pino({ level: 'silent' }),
      watchConfig: false,
      ...extra,
    });
  } finally {
    if (before === undefined) delete process.env.NIGHTLESS_TOKEN;
    else process.env.NIGHTLESS_TOKEN = before;
  }
}
