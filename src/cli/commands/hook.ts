import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { installHook, uninstallHook } from '../../ingest/git-hooks/install-hook.js';
import { ensureHookToken } from '../../ingest/git-hooks/hook-token.js';
import { DEFAULT_TIMEOUT_MS } from '../client-options.js';
import { ConnectionError, UsageError } from '../errors.js';
import { apiHookTokenIssuer } from './hook-token-client.js';

interface InstallFlags {
  server?: string;
  dataDir: string;
  token?: string;
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
      "the server's state directory (its admin token creates the hook's token)",
      '.nightless',
    )
    .option(
      '--token <token>',
      'admin token that creates the hook token (default: $NIGHTLESS_TOKEN or <data-dir>/token)',
    )
    .option(
      '--token-file <file>',
      'let the hook read its token from this file (no hook token is created)',
    )
    .option(
      '--token-from-env',
      'write no token file path into the hook: it sends $NIGHTLESS_TOKEN of the git process',
    )
    .addHelpText(
      'after',
      `
By default the hook gets a token of its own that can only announce pushes (scope hook), created
through the server's API with the admin token and kept in <git-dir>/nightless-hook-token;
running install again keeps a token the server still accepts. An existing hook is kept: it is moved to <hook>.pre-nightless and called first. The hook never
fails or delays a push: it notifies in the background (1 s connect, 2 s total); if the server is
down, the fallback poll finds the change later. Reinstalling only rewrites the nightless hook.

Examples:
  $ nightless hook install /srv/git/app.git --server http://ci.internal:8080
  $ nightless hook install . --data-dir ~/.nightless`,
    )
    .action(async (repo: string, flags: InstallFlags) => {
      const serverUrl = (
        flags.server ??
        process.env.NIGHTLESS_SERVER ??
        'http://127.0.0.1:8080'
      ).replace(/\/+$/, '');
      let tokenFile: string | null;
      let tokenLine: string;
      if (flags.tokenFromEnv) {
        tokenFile = null;
        tokenLine = '  token: $NIGHTLESS_TOKEN of the process running git';
      } else if (flags.tokenFile !== undefined) {
        tokenFile = resolve(flags.tokenFile);
        tokenLine = `  token: read from ${tokenFile} (must be readable by whoever runs git)`;
      } else {
        const t = await hookToken(serverUrl, adminToken(flags), repo);
        tokenFile = t.file;
        tokenLine = `  token: "${t.name}" (scope hook${t.reused ? ', kept' : ', new'}) in ${t.file}`;
      }
      const r = await installHook(repo, { serverUrl, tokenFile });
      const lines = [
        `${r.updated ? 'updated' : 'installed'} ${r.hook} hook: ${r.path}`,
        `  notifies ${serverUrl}/hooks/git about ${r.repo}`,
        tokenLine,
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

function adminToken(flags: InstallFlags): string | null {
  const given = flags.token ?? process.env.NIGHTLESS_TOKEN;
  if (given) return given;
  const file = join(flags.dataDir, 'token');
  return existsSync(file) ? readFileSync(file, 'utf8').trim() || null : null;
}

async function hookToken(serverUrl: string, admin: string | null, repo: string) {
  try {
    return await ensureHookToken(
      apiHookTokenIssuer(serverUrl, admin, DEFAULT_TIMEOUT_MS),
      resolve(repo),
    );
  } catch (err) {
    if (err instanceof ConnectionError)
      throw new UsageError(
        `cannot create the hook's token: ${err.message}. Start the server first, or pass --token-file FILE`,
      );
    throw err;
  }
}
