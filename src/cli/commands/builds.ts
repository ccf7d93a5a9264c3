import { Option, type Command } from 'commander';
import { BUILD_STATES } from '../../core/build.js';
import type { BuildsResponse } from '../../api/types.js';
import {
  commandContext,
  positiveIntArg,
  buildIdArg,
  withClientOptions,
} from '../client-options.js';
import { UsageError } from '../errors.js';
import { formatBuildsTable } from '../format/builds-table.js';

interface BuildsFlags {
  readonly job?: string;
  readonly state?: string;
  readonly source?: string;
  readonly version?: string;
  readonly limit?: number;
  readonly before?: number;
}

export function registerBuilds(program: Command): void {
  withClientOptions(
    program
      .command('builds')
      .description('list builds, newest first')
      .option('--job <job>', 'only builds of this job')
      .addOption(new Option('--state <state>', 'only builds in this state').choices(BUILD_STATES))
      .option('--source <source>', 'only builds that used this source (with --version)')
      .option('--version <version>', 'only builds that used this version (or prefix) of --source')
      .option(
        '--limit <n>',
        'at most this many builds (server default 50, max 500)',
        positiveIntArg,
      )
      .option('--before <id>', 'builds older than this id (paging)', buildIdArg),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ nightless builds --job build --state failed --limit 5
  BUILD  JOB    STATE   INPUTS                       QUEUED  DURATION  REASON
    #42  build  failed  app@3f2a1c0d9e glibc@2.39-1  3m ago  1m12s     step "npm test": exit code 1
    #37  build  failed  app@0c5d2e8a41 glibc@2.39-1  2d ago  58s       step "npm ci": exit code 1

  $ nightless builds --source app --version 3f2a1c0    # which builds used this commit?
  $ nightless builds --before 37                        # the next page`,
    )
    .action(async (opts: BuildsFlags, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      if (opts.version !== undefined && opts.source === undefined) {
        throw new UsageError('--version needs --source (a version belongs to a source)');
      }
      const body = await client.getJson<BuildsResponse>('/api/builds', {
        job: opts.job,
        state: opts.state,
        source: opts.source,
        version: opts.version,
        limit: opts.limit,
        before: opts.before,
      });
      if (json) return out.json(body);
      if (body.builds.length === 0) return out.print('no builds match');
      out.print(...formatBuildsTable(body.builds, out.now(), out.colours));
      if (body.next !== null)
        out.print(out.colours.dim(`more: nightless builds --before ${body.next}`));
    });
}
