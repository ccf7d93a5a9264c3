import type { Command } from 'commander';
import { isFinished, type Build } from '../../core/build.js';
import type { BuildResponse, TriggerResponse } from '../api-types.js';
import { commandContext, withClientOptions } from '../client-options.js';
import { ExitCode } from '../errors.js';
import { decisionBuild, explainNoBuild } from '../format/decisions.js';
import { buildDuration } from '../format/build.js';
import { formatSpan } from '../format/time.js';
import { describeResult, waitForBuild } from '../wait-for-build.js';

interface TriggerFlags {
  readonly force?: boolean;
  readonly wait?: boolean;
}

export function registerTrigger(program: Command): void {
  withClientOptions(
    program
      .command('trigger')
      .description('ask for a build of a job with the newest version of each input')
      .argument('<job>', 'job name')
      .option('--force', 'build even if these inputs were built already')
      .option('--wait', 'wait for the build to finish; exit 0 if it passed, 1 otherwise'),
  )
    .addHelpText(
      'after',
      `
Without --force nothing is queued when the newest inputs were built already; that is not an
error (exit 0), and the reason is printed.

Examples:
  $ nightless trigger build
  queued build #43
  $ nightless trigger build
  build already built these inputs as build #43 (passed); use --force to rebuild
  $ nightless trigger build --force --wait && echo released`,
    )
    .action(async (job: string, opts: TriggerFlags, cmd: Command) => {
      const { client, out, json } = commandContext(cmd);
      const force = opts.force === true;
      const body = await client.postJson<TriggerResponse>(
        `/api/jobs/${encodeURIComponent(job)}/trigger`,
        { force },
      );
      if (json) out.json(body);
      let target: number | null = body.build?.id ?? null;
      if (body.build !== null) {
        if (!json) out.print(`queued build #${body.build.id}`);
      } else {
        if (!json) out.print(...explainNoBuild(job, body.decisions, force));
        // With --wait, "already built as #N" still has an answer: the result of #N.
        target = body.decisions.map(decisionBuild).find((id) => id !== null) ?? null;
      }
      if (opts.wait !== true || target === null) return;
      let build: Build =
        body.build ?? (await client.getJson<BuildResponse>(`/api/builds/${target}`)).build;
      if (!isFinished(build.state) || build.state === 'superseded') {
        build = await waitForBuild(client, out, build.job, build.id);
      }
      const took = buildDuration(build, out.now());
      const line = describeResult(build) + (took === null ? '' : ` in ${formatSpan(took)}`);
      if (json) out.note(line);
      else out.print(line);
      if (build.state !== 'passed') throw new ExitCode(1);
    });
}
