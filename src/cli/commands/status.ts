import type { Command } from 'commander';
import type { JobsResponse, SourcesResponse } from '../../api/types.js';
import { commandContext, withClientOptions } from '../client-options.js';
import { formatFailedBuildLinks, formatStatusTable } from '../format/builds-table.js';
import { formatFailingSources } from '../format/sources.js';

export function registerStatus(program: Command): void {
  withClientOptions(
    program.command('status').description('show every job with its latest build and state'),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ nightless status
  JOB          STATE    BUILD  INPUTS                         WHEN    REASON
  build        failed     #42  app@3f2a1c0d9e glibc@2.39-1    3m ago  step "npm test": exit code 1
  integration  passed     #40  build.dist@9b1e77a0c2          1h ago

  A build failed:
    build #42  https://ci.example.com/builds/42

  A source check failed:
    lib  failed 2m ago: git ls-remote /srv/git/lib.git failed (exit code 128): fatal: '/srv/git/lib.git' does not appear to be a git repository; fatal: Could not read from remote repository.

  $ nightless status --server http://ci.example.com:8080
  $ nightless status --json | jq '.jobs[].latest.state'`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      if (json) return out.json(await client.getJson<JobsResponse>('/api/jobs'));
      const [body, sources] = await Promise.all([
        client.getJson<JobsResponse>('/api/jobs'),
        client.getJson<SourcesResponse>('/api/sources'),
      ]);
      const failing = formatFailingSources(sources.sources, out.now(), out.colours);
      if (body.jobs.length === 0) return out.print('no jobs in the pipeline', ...failing);
      out.print(
        ...formatStatusTable(body.jobs, out.now(), out.colours),
        ...formatFailedBuildLinks(body.jobs, out.colours),
        ...failing,
      );
    });
}
