import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../ingest/poll/run-command.js';
import { prepareDataDir } from './data-dir.js';

export interface Demo {
  readonly configPath: string;
  readonly bareRepo: string;
  readonly workTree: string;
}

const GIT_ENV = {
  ...process.env,
  GIT_AUTHOR_NAME: 'nightless demo',
  GIT_AUTHOR_EMAIL: 'demo@nightless.invalid',
  GIT_COMMITTER_NAME: 'nightless demo',
  GIT_COMMITTER_EMAIL: 'demo@nightless.invalid',
};

/**
 * A demo under `<dataDir>/demo`: a bare repository with one commit of a tiny shell project, a
 * clone to push from, and a pipeline that tests it, packs it, and runs an integration check on
 * the package — so a fresh install shows a real chain of builds within seconds. Idempotent.
 */
export async function prepareDemo(dataDir: string): Promise<Demo> {
  const root = join(await prepareDataDir(dataDir), 'demo');
  const bareRepo = join(root, 'app.git');
  const workTree = join(root, 'app');
  const configPath = join(root, 'nightless.yaml');
  const git = async (args: string[], cwd?: string) => {
    const res = await runCommand('git', args, {
      timeoutMs: 20_000,
      env: GIT_ENV,
      ...(cwd ? { cwd } : {}),
    });
    if (res.code !== 0) throw new Error(`git ${args.join(' ')}: ${res.stderr.trim()}`);
  };
  if (!existsSync(bareRepo)) {
    await mkdir(root, { recursive: true });
    await git(['init', '--quiet', '--bare', '--initial-branch=main', bareRepo]);
    await git(['clone', '--quiet', bareRepo, workTree]);
    await git(['checkout', '--quiet', '-B', 'main'], workTree);
    // The README's demo push must work on a machine without a git identity configured.
    await git(['config', 'user.name', GIT_ENV.GIT_AUTHOR_NAME], workTree);
    await git(['config', 'user.email', GIT_ENV.GIT_AUTHOR_EMAIL], workTree);
    for (const [name, text] of Object.entries(DEMO_FILES)) {
      await mkdir(join(workTree, name, '..'), { recursive: true });
      await writeFile(join(workTree, name), text, { mode: name.endsWith('.sh') ? 0o755 : 0o644 });
    }
    await git(['add', '.'], workTree);
    await git(['commit', '--quiet', '-m', 'demo: a greeter and its test'], workTree);
    await git(['push', '--quiet', 'origin', 'main'], workTree);
  }
  await writeFile(configPath, demoPipeline(bareRepo));
  return { configPath, bareRepo, workTree };
}

function demoPipeline(bareRepo: string): string {
  return `# The nightless demo pipeline: edit ${'`'}app/greet.sh${'`'}, commit and push, and watch it rebuild.
pipeline: demo
sources:
  app:
    git: ${JSON.stringify(bareRepo)}
    branch: main
    # \`serve --demo\` installs a git hook in this repository: a push builds at once. The poll
    # is only the safety net for a notification that never arrived.
    fallback_poll: 1m

jobs:
  build:
    inputs: [app]
    steps:
      - name: test
        run: ./test.sh
      - name: package
        run: |
          mkdir -p dist
          # Byte-identical when greet.sh is unchanged: downstream jobs then skip (early cutoff).
          tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - greet.sh | gzip -n > dist/greeter.tgz
    timeout: 2m
    outputs:
      dist: dist/greeter.tgz
    coverage: { lcov: coverage/lcov.info }

  integration:
    inputs: [build.dist]
    steps:
      - name: unpack and run
        run: |
          mkdir -p unpacked
          tar -xzf "$NIGHTLESS_INPUT_BUILD_DIST_PATH"/dist/greeter.tgz -C unpacked
          ./unpacked/greet.sh nightless | grep -q "hello, nightless"
          echo "integration passed for package $NIGHTLESS_INPUT_BUILD_DIST_VERSION"
    timeout: 1m
`;
}

const DEMO_FILES: Record<string, string> = {
  'greet.sh': `#!/usr/bin/env bash
set -eu
echo "hello, \${1:-world}"
`,
  'test.sh': `#!/usr/bin/env bash
set -eu
out=$(./greet.sh tester)
[ "$out" = "hello, tester" ] || { echo "expected 'hello, tester', got '$out'" >&2; exit 1; }
echo "1 passed, 0 failed"
mkdir -p coverage
printf 'SF:greet.sh\\nDA:2,1\\nDA:3,1\\nLF:2\\nLH:2\\nend_of_record\\n' > coverage/lcov.info
`,
  'README.md': `# demo app\n\nA greeter; \`./test.sh\` tests it. nightless builds it on every push.\n`,
};
