import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { installHook, uninstallHook } from '../../ingest/git-hooks/install-hook.js';

interface InstallFlags {
  server?: string;
  dataDir: string;
  tokenFile?: string;
  tokenFromEnv?: boolean;
}

/**
 * `nightless hook install REPO` / `nightless hook uninstall REPO`: the local-repository event
 * source (docs/ingest.md). Runs on the machine that holds the repository; needs no server.
 */
export function registerHook(program: Command): void {
  const hook = program
    .command('hook')
    .description('notify nightless from a local git repository on every ref update');
  hook
    .command('install')
    .argument(
      '<repo>',
      'bare repository (post-receive hook) or working repository (reference-transaction hook)',
    )
    .description('install a hook that tells the server about every updated branch and tag')
    .option(
      '--server <url>',
      'server URL the hook notifies (default: $NIGHTLESS_SERVER or http://127.0.0.1:8080)',
    )
    .option(
      '-d, --data-dir <dir>',
      "the server's state directory; the hook reads <dir>/token",
      '.nightless',
    )
    .option('--token-file <file>', 'read the API token from this file instead of <data-dir>/token')
    .option(
      '--token-from-env',
      'write no token file path into the hook: it sends $NIGHTLESS_TOKEN of the git process',
    )
    .addHelpText(
      'after',
      `
An existing hook is kept: it is moved to <hook>.pre-nightless and called first. The hook never
fails or delays a push: it notifies in the background (1 s connect, 2 s total); if the server is
down, the fallback poll finds the change later. Reinstalling only rewrites the nightless hook.

Examples:
  $ nightless hook install /srv/git/app.git --server http://ci.internal:8080
  $ nightless hook install . --data-dir ~/.nightless`,
    )
    .action(async (repo: string, flags: InstallFlags) => {
      const serverUrl = flags.server ?? process.env.NIGHTLESS_SERVER ?? 'http://127.0.0.1:8080';
      const tokenFile = flags.tokenFromEnv
        ? null
        : resolve(flags.tokenFile ?? join(flags.dataDir, 'token'));
      const r = await installHook(repo, { serverUrl, tokenFile });
      const lines = [
        `${r.updated ? 'updated' : 'installed'} ${r.hook} hook: ${r.path}`,
        `  notifies ${serverUrl}/hooks/git about ${r.repo}`,
        tokenFile === null
          ? '  token: $NIGHTLESS_TOKEN of the process running git'
          : `  token: read from ${tokenFile} (must be readable by whoever runs git)`,
      ];
      if (r.chained)
        lines.push(
          `  chained: the previous hook is now ${r.path}.pre-nightless and still runs first`,
        );
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  hook
    .command('uninstall')
    .argument('<repo>', 'repository the hook was installed in')
    .description('remove the nightless hook and restore the one it chained to')
    .action(async (repo: string) => {
      const r = await uninstallHook(repo);
      process.stdout.write(
        r.removed
          ? `removed ${r.path}${r.restored ? ' and restored the previous hook' : ''}\n`
          : `no nightless hook in ${r.path}: nothing to do\n`,
      );
    });
}
