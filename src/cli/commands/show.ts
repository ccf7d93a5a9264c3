import type { Command } from 'commander';
import type { BuildResponse } from '../../api/types.js';
import { buildIdArg, commandContext, withClientOptions } from '../client-options.js';
import { formatBuildDetail } from '../format/build.js';

export function registerShow(program: Command): void {
  withClientOptions(
    program
      .command('show')
      .description('show one build in detail: cause, inputs, times, failure, coverage, outputs')
      .argument('<build>', 'build id (42 or #42)', buildIdArg),
  )
    .addHelpText(
      'after',
      `
Examples:
  $ nightless show 42
  build #42
  state:        failed
  job:          build
  page:         https://ci.example.com/builds/42
  cause:        new version app@3f2a1c0d9e (event 118)
  inputs:       app@3f2a1c0d9e (main, webhook)
                glibc@2.39-1 (bus)
  ...
  coverage:     lines 81.2% (+1.3), branches 70.4% (-0.2)

  $ nightless show 42 --json | jq .build.outputs`,
    )
    .action(async (id: number, _opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.getJson<BuildResponse>(`/api/builds/${id}`);
      if (json) return out.json(body);
      out.print(...formatBuildDetail(body.build, out.now(), out.colours));
    });
}
