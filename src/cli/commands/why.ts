import type { Command } from 'commander';
import type { WhyResponse } from '../api-types.js';
import { commandContext, withClientOptions } from '../client-options.js';
import { formatDecisions } from '../format/decisions.js';

export function registerWhy(program: Command): void {
  withClientOptions(
    program
      .command('why')
      .description("explain the scheduler's decisions for a job, newest first")
      .argument('<job>', 'job name')
      .argument('[version]', 'only decisions about this version (or a prefix of it)'),
  )
    .addHelpText(
      'after',
      `
Every event the scheduler saw for the job is there, including the ones that built nothing
(duplicates, versions already built, filtered branches) — the answer to "why didn't it build?".

Examples:
  $ nightless why build
  TIME                 RULE              INPUT           BUILD  DETAIL
  2025-03-01 12:04:45  same-fingerprint                         build already built these inputs as build #42 (passed)
  2025-03-01 12:00:00  built             app@3f2a1c0d9e  #42    build queued: new version app@3f2a1c0d9e

  $ nightless why build 3f2a1c0       # only decisions about this commit`,
    )
    .action(async (job: string, version: string | undefined, _opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.getJson<WhyResponse>('/api/why', { job, version });
      if (json) return out.json(body);
      out.print(...formatDecisions(body.decisions, out.colours));
    });
}
