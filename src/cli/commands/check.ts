import type { Command } from 'commander';

/** Where `check` writes; injectable so tests can capture output without touching the process. */
export interface CheckIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

const processIo: CheckIo = {
  out: (t) => process.stdout.write(`${t}\n`),
  err: (t) => process.stderr.write(`${t}\n`),
};

/**
 * `nightless check [FILE]`: validates a pipeline file and prints its summary. Sets
 * `process.exitCode` (0 valid, 1 invalid) rather than exiting, so it composes with other commands.
 */
export function registerCheck(program: Command, io: CheckIo = processIo): void {
  program
    .command('check')
    .description('validate a pipeline file and show its sources, jobs and job graph')
    .argument('[file]', 'pipeline file', 'nightless.yaml')
    .option('--json', 'print a JSON object: {ok, summary} or {ok: false, problems}')
    .addHelpText(
      'after',
      `
Examples:
  $ nightless check                       # ./nightless.yaml
  $ nightless check ci/nightless.yaml
  $ nightless check --json | jq .summary.order

\${env:NAME} references are resolved from the environment: run the check where the
server runs, or export the variables first. Exit code 0 when valid, 1 otherwise; problems
are printed as FILE:LINE:COL: PATH: MESSAGE.`,
    )
    .action(async (file: string, options: { json?: boolean }) => {
      process.exitCode = await runCheck(file, options.json === true, io);
    });
}

export async function runCheck(
  file: string,
  json: boolean,
  io: CheckIo = processIo,
): Promise<number> {
  // Loaded here, not at the top: `nightless --help` registers every command, and the pipeline
  // schema (zod, YAML) is most of a cold start's module loading.
  const { ConfigError, formatProblem, formatSummary, loadPipelineFile, summarizePipeline } =
    await import('../../config/index.js');
  try {
    const pipeline = await loadPipelineFile(file, io.env !== undefined ? { env: io.env } : {});
    const summary = summarizePipeline(pipeline);
    if (json) io.out(JSON.stringify({ ok: true, summary }, null, 2));
    else io.out(`${file}: ok\n\n${formatSummary(summary)}`);
    return 0;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (json) io.out(JSON.stringify({ ok: false, problems: e.problems }, null, 2));
    else {
      for (const p of e.problems) io.err(formatProblem(p));
      const n = e.problems.length;
      io.err(`\n${file}: ${n} problem${n === 1 ? '' : 's'}`);
    }
    return 1;
  }
}
