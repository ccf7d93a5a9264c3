import type { Command } from 'commander';
import type { SourcesResponse } from '../../api/types.js';
import { commandContext, withClientOptions } from '../client-options.js';
import { formatSources } from '../format/sources.js';

export function registerSources(program: Command): void {
  withClientOptions(
    program
      .command('sources')
      .description('show each source: heads, next fallback check, last check, missed events'),
  )
    .addHelpText(
      'after',
      `
A "missed" event is a version the fallback check found that no event announced: a rising count
means webhooks or bus messages are getting lost. An amqp source shows the broker queue this
installation consumes from (nightless.<installation-id>.<source>).

Examples:
  $ nightless sources
  app  git  https://git.example.com/team/app.git
    heads:       main → 3f2a1c0d9e (webhook, 3m ago)
    next check:  14:09:30 (in 4m12s, every 10m)
    last check:  ok 5m ago
    events:      118 received, last 3m ago, 0 missed

  $ nightless sources --json | jq '.sources[] | {name, missedEvents}'`,
    )
    .action(async (_opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.getJson<SourcesResponse>('/api/sources');
      if (json) return out.json(body);
      out.print(...formatSources(body.sources, out.now(), out.colours));
    });
}
