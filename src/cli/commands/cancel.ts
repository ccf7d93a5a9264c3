import type { Command } from 'commander';
import { isFinished } from '../../core/build.js';
import type { CancelResponse } from '../../api/types.js';
import { buildIdArg, commandContext, withClientOptions } from '../client-options.js';

export function registerCancel(program: Command): void {
  withClientOptions(
    program
      .command('cancel')
      .description('cancel a queued or running build')
      .argument('<build>', 'build id (42 or #42)', buildIdArg),
  )
    .addHelpText(
      'after',
      `
A running build is stopped by its runner (its processes are killed within a second or so).

Examples:
  $ nightless cancel 42
  cancelled build #42 (build)
  $ NIGHTLESS_TOKEN=... nightless cancel 42 --server https://ci.example.com`,
    )
    .action(async (id: number, _opts: unknown, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const body = await client.postJson<CancelResponse>(`/api/builds/${id}/cancel`, {});
      if (json) return out.json(body);
      const b = body.build;
      const c = out.colours;
      if (b.state === 'cancelled') out.print(`cancelled build #${b.id} (${b.job})`);
      else if (isFinished(b.state)) {
        out.print(`build #${b.id} (${b.job}) already ${c.state(b.state)}; nothing to cancel`);
      } else
        out.print(`cancelling build #${b.id} (${b.job}, ${c.state(b.state)}); its runner stops it`);
    });
}
