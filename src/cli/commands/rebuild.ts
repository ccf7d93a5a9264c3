import type { Command } from 'commander';
import type { TriggerResponse } from '../../api/types.js';
import { buildIdArg, commandContext, withClientOptions } from '../client-options.js';
import { reportQueued, whoAmI } from './trigger.js';

interface RebuildFlags {
  readonly wait?: boolean;
  readonly by?: string;
}

export function registerRebuild(program: Command): void {
  withClientOptions(
    program
      .command('rebuild')
      .description("run a build's job again on exactly the same input versions (forced)")
      .argument('<build>', 'build id (42 or #42)', buildIdArg)
      .option('--by <name>', 'who asks, recorded in the build (default: your user name)')
      .option('--wait', 'wait for the build to finish; exit 0 if it passed, 1 otherwise'),
  )
    .addHelpText(
      'after',
      `
The new build pins every input to the old build's version, with the job's current definition,
and runs even though those inputs were built already (a flaky test, a fixed runner).

Examples:
  $ nightless rebuild 42
  queued build #57 https://ci.example.com/builds/57
  $ nightless rebuild 42 --wait || echo "still failing"`,
    )
    .action(async (id: number, opts: RebuildFlags, cmd: Command) => {
      const ctx = commandContext(cmd);
      const body = await ctx.client.postJson<TriggerResponse>(`/api/builds/${id}/rebuild`, {
        by: opts.by ?? whoAmI(),
      });
      const job = body.build?.job ?? `build #${id}`;
      await reportQueued(ctx, job, body, { force: true, wait: opts.wait === true });
    });
}
