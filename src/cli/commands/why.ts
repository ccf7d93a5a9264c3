import type { Command } from 'commander';
import type { WhyResponse } from '../../api/types.js';
import { commandContext, withClientOptions } from '../client-options.js';
import { ApiError, CliError } from '../errors.js';
import { formatDecisions } from '../format/decisions.js';

export function registerWhy(program: Command): void {
  withClientOptions(
    program
      .command('why')
      .description("explain the scheduler's decisions for a job or a source, newest first")
      .argument('<name>', 'job name, or source name (a job of that name wins)')
      .argument('[version]', 'only decisions about this version (or a prefix of it)'),
  )
    .addHelpText(
      'after',
      `
Every event the scheduler saw for the job is there, including the ones that built nothing
(duplicates, late deliveries of older commits, versions already built, filtered branches) —
the answer to "why didn't it build?". For a job, the decisions about its inputs' versions
(new version, duplicate, ancestor, missed event) are listed too; for a source, every decision
about it.

Examples:
  $ nightless why build
  TIME                 RULE              INPUT           BUILD  DETAIL
  2025-03-01 12:04:45  same-fingerprint                         build already built these inputs as build #42 (passed)
  2025-03-01 12:00:00  built             app@3f2a1c0d9e  #42    build queued: new version app@3f2a1c0d9e
  2025-03-01 12:00:00  new-version       app@3f2a1c0d9e         app@3f2a1c0d9e is the new head of main (hook)

  $ nightless why build 3f2a1c0       # only decisions about this commit
  $ nightless why app                 # everything decided about the source app`,
    )
    .action(async (name: string, version: string | undefined, _opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const only = version === undefined ? {} : { version };
      let body: WhyResponse;
      try {
        body = await client.getJson<WhyResponse>('/api/why', { job: name, ...only });
      } catch (err) {
        if (!(err instanceof ApiError) || err.status !== 404) throw err;
        try {
          body = await client.getJson<WhyResponse>('/api/why', { source: name, ...only });
        } catch (err2) {
          if (!(err2 instanceof ApiError) || err2.status !== 404) throw err2;
          // The server's answers carry its suggestion (`did you mean "build"?`): keep it.
          const hint = [err, err2]
            .map((e) => /\(did you mean [^)]*\)/.exec(e.serverMessage)?.[0])
            .find((h) => h !== undefined);
          throw new CliError(
            `404 NL_NOT_FOUND: no job or source "${name}" in the pipeline${hint ? ` ${hint}` : ''}`,
          );
        }
      }
      if (json) return out.json(body);
      const waiting = body.waiting === undefined ? [] : [`${name}: queued, ${body.waiting}`];
      out.print(...waiting, ...formatDecisions(body.decisions, out.colours));
    });
}
