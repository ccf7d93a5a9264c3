import { userInfo } from 'node:os';
import { InvalidArgumentError, type Command } from 'commander';
import { isFinished } from '../../core/build.js';
import type { ApiBuild as Build, BuildResponse, TriggerResponse } from '../../api/types.js';
import { commandContext, withClientOptions, type CommandContext } from '../client-options.js';
import { ExitCode } from '../errors.js';
import { decisionBuild, explainNoBuild } from '../format/decisions.js';
import { buildDuration } from '../format/build.js';
import { formatSpan } from '../format/time.js';
import { describeResult, waitForBuild } from '../wait-for-build.js';

interface TriggerFlags {
  readonly force?: boolean;
  readonly wait?: boolean;
  readonly input?: Readonly<Record<string, string>>;
  readonly by?: string;
}

export function registerTrigger(program: Command): void {
  withClientOptions(
    program
      .command('trigger')
      .description('ask for a build of a job with the newest version of each input')
      .argument('<job>', 'job name')
      .option('--force', 'build even if these inputs were built already')
      .option(
        '--input <name=version>',
        'pin an input to a version nightless has seen (a unique prefix is enough); repeatable',
        collectPin,
      )
      .option('--by <name>', 'who asks, recorded in the build (default: your user name)')
      .option('--wait', 'wait for the build to finish; exit 0 if it passed, 1 otherwise'),
  )
    .addHelpText(
      'after',
      `
Without --force nothing is queued when the newest inputs were built already; that is not an
error (exit 0), and the reason is printed. --input runs the job on an older (or another
branch's) version of an input: any version of a source or job output nightless has seen.

Examples:
  $ nightless trigger build
  queued build #43 https://ci.example.com/builds/43
  $ nightless trigger build
  build already built these inputs as build #43 (passed); use --force to rebuild
  $ nightless trigger build --input app=3f2a1c0 --input glibc=2.39-1
  queued build #44 https://ci.example.com/builds/44
  $ nightless trigger build --force --wait && echo released`,
    )
    .action(async (job: string, opts: TriggerFlags, cmd: Command) => {
      const ctx = commandContext(cmd);
      const force = opts.force === true;
      const body = await ctx.client.postJson<TriggerResponse>(
        `/api/jobs/${encodeURIComponent(job)}/trigger`,
        { force, ...(opts.input ? { inputs: opts.input } : {}), by: opts.by ?? whoAmI() },
      );
      await reportQueued(ctx, job, body, { force, wait: opts.wait === true });
    });
}

/**
 * Prints what a trigger or rebuild queued (or why nothing), and with \`wait\` follows the build to
 * its end: exit 0 when it passed, 1 otherwise.
 */
export async function reportQueued(
  { client, out, json }: CommandContext,
  job: string,
  body: TriggerResponse,
  opts: { force: boolean; wait: boolean },
): Promise<void> {
  if (json) out.json(body);
  let target: number | null = body.build?.id ?? null;
  if (body.build !== null) {
    if (!json) out.print(`queued build #${body.build.id} ${body.build.url}`);
  } else {
    if (!json) out.print(...explainNoBuild(job, body.decisions, opts.force));
    // With --wait, "already built as #N" still has an answer: the result of #N.
    target = body.decisions.map(decisionBuild).find((id) => id !== null) ?? null;
  }
  if (!opts.wait || target === null) return;
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
}

/** \`--input app=3f2a1c0\`, repeatable: NAME=VERSION pairs into one record. */
function collectPin(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = value.indexOf('=');
  const name = eq < 0 ? '' : value.slice(0, eq).trim();
  const version = eq < 0 ? '' : value.slice(eq + 1).trim();
  if (name === '' || version === '')
    throw new InvalidArgumentError(`expected NAME=VERSION, like app=3f2a1c0 (got "${value}")`);
  if (Object.hasOwn(previous, name))
    throw new InvalidArgumentError(`${name} is given twice (${previous[name]} and ${version})`);
  return { ...previous, [name]: version };
}

/** The local user name, as a label for the build's cause; \`cli\` when the OS can't say. */
export function whoAmI(): string {
  try {
    const name = userInfo().username;
    return /^[\x21-\x7e]{1,100}$/.test(name) ? name : 'cli';
  } catch {
    return 'cli';
  }
}
